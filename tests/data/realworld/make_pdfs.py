"""Regenerate the real-layout PDFs of the issue-14 fixtures (needs pdflatex and IEEEtran).

    apt-get install -y --no-install-recommends texlive-publishers texlive-latex-base \
        texlive-latex-extra texlive-lang-european
    python tests/data/realworld/make_pdfs.py

The PDFs are committed beside this script (CI installs no TeX). The texts are our own words.

- ``ieee_croatian.pdf``: an IEEEtran conference paper in Croatian (``Sažetak—``,
  ``Ključne riječi—``), 2 pages.
- ``ieee_compsoc.pdf``: an IEEEtran ``compsoc`` conference paper (the Computer Society
  layout: its abstract has no ``Abstract—`` run-in mark), 2 pages.
- ``ieee_no_keywords.pdf``: an English IEEEtran conference paper without index terms, 2 pages.
- ``ieeetran_howto_like.pdf``: a journal-layout guide titled like the IEEEtran class's own
  guide (``How to Use the IEEEtran LaTeX Class``, by Michael Shell), 6 pages: the kind of PDF
  students commit beside their paper.
- ``word_template_sample.pdf``: one page shaped like the IEEE Word template's sample
  (``Paper Title (use style: paper title)``).
- ``group_paper.pdf``: the group's own 3-page paper built from ``GROUP_TEX`` (its ``\\title``
  is on the first page).
- ``bare_demo_like.pdf``: one page titled like the class's demo (``Bare Demo of IEEEtran.cls``).
- ``group_paper_guidance.pdf``: the group's paper from ``GUIDANCE_TEX``: a title with the "fi"
  ligature and the Overleaf template's guidance paragraph left in, 2 pages.
- ``handout_like.pdf``: a one-column assignment sheet ("Assignment #2", "Due: ..."), 2 pages.
- ``ieee_url_overflow.pdf``: an IEEEtran paper whose one reference URL runs into the margin.
- ``ieee_landscape_table.pdf``: an IEEEtran paper with a landscape table page (pdflscape).
- ``overleaf_sample_like.pdf``: one page titled like Overleaf's untouched IEEE conference
  template (``Conference Paper Title*``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# One PDF maker: tests/data/papers/make_papers.py compiles and checks every fixture.
sys.path.insert(0, str(HERE.parent / "papers"))
from make_papers import build_all  # noqa: E402

CROATIAN_BODY = r"""
Ovaj rad opisuje jednostavan sustav za prepoznavanje ptičjeg pjeva u kratkim zvučnim
isječcima. Sustav koristi mel-spektrograme i malu konvolucijsku mrežu. Podatke smo
prikupili sami, a rezultate uspoređujemo s osnovnim modelom.
"""

CROATIAN = r"""\documentclass[conference]{IEEEtran}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[croatian]{babel}
\usepackage{lipsum}
\renewcommand{\IEEEkeywordsname}{Ključne riječi}
\begin{document}
\title{Prepoznavanje ptičjeg pjeva malim konvolucijskim mrežama}
\author{\IEEEauthorblockN{Ana Horvat i Ivan Kovač}
\IEEEauthorblockA{Strojno učenje za zvučne podatke, Primjer sveučilište}}
\maketitle
\begin{abstract}
%(body)s
\end{abstract}
\begin{IEEEkeywords}
zvuk, ptice, konvolucijske mreže
\end{IEEEkeywords}
\section{Uvod}
%(body)s
\lipsum[1-4]
\section{Metoda}
\lipsum[5-9]
\section{Zaključak}
%(body)s
\end{document}
""".replace("%(body)s", CROATIAN_BODY)

COMPSOC = r"""\documentclass[conference,compsoc]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Bird Song Detection on Small Devices}
\author{\IEEEauthorblockN{Ada Lovelace and Alan Turing}
\IEEEauthorblockA{Machine Learning for Audio, Example University}}
\IEEEtitleabstractindextext{%
\begin{abstract}
We detect bird songs in short clips with a tiny network that runs on a microcontroller.
\lipsum[1][1-4]
\end{abstract}
\begin{IEEEkeywords}
audio, bird song, embedded learning
\end{IEEEkeywords}}
\maketitle
\IEEEdisplaynontitleabstractindextext
\section{Introduction}
\lipsum[1-5]
\section{Method}
\lipsum[6-10]
\end{document}
"""

NO_KEYWORDS = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Bird Song Detection Without Keywords}
\author{\IEEEauthorblockN{Ada Lovelace}
\IEEEauthorblockA{Example University}}
\maketitle
\begin{abstract}
We detect bird songs in short clips. \lipsum[1][1-4]
\end{abstract}
\section{Introduction}
\lipsum[1-5]
\section{Method}
\lipsum[6-10]
\end{document}
"""

HOWTO_LIKE = r"""\documentclass[journal]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{How to Use the IEEEtran \LaTeX{} Class}
\author{Michael~Shell}
\maketitle
\begin{abstract}
This stand-in shares only the title and the author of the class's guide. \lipsum[1][1-3]
\end{abstract}
\begin{IEEEkeywords}
typesetting, \LaTeX, IEEEtran
\end{IEEEkeywords}
\section{Introduction}
\lipsum[1-60]
\end{document}
"""

WORD_SAMPLE = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Paper Title (use style: paper title)}
\author{\IEEEauthorblockN{Given Name Surname}
\IEEEauthorblockA{dept. name of organization}}
\maketitle
\begin{abstract}
This document is a model and instructions for the template. \lipsum[1][1-3]
\end{abstract}
\begin{IEEEkeywords}
component, formatting, style, styling, insert
\end{IEEEkeywords}
\section{Introduction}
\lipsum[1-3]
\end{document}
"""

GROUP_TITLE = "Counting Frogs in Night Recordings"
GROUP_TEX = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Counting Frogs in Night Recordings}
\author{\IEEEauthorblockN{Group 33}
\IEEEauthorblockA{Machine Learning for Audio, Example University}}
\maketitle
\begin{abstract}
We count frog calls in night recordings. \lipsum[1][1-4]
\end{abstract}
\begin{IEEEkeywords}
audio, frogs, counting
\end{IEEEkeywords}
\section{Introduction}
\lipsum[1-22]
\end{document}
"""

BARE_DEMO_LIKE = r"""\documentclass[conference,compsoc]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Bare Demo of IEEEtran.cls for\\ IEEE Computer Society Conferences}
\author{\IEEEauthorblockN{Michael Shell}
\IEEEauthorblockA{Stand-in for the class's demo file}}
\maketitle
\begin{abstract}
The abstract goes here. \lipsum[1][1-2]
\end{abstract}
\section{Introduction}
\lipsum[1-3]
\end{document}
"""

# The group's own paper: a title with "fi" (pdfTeX sets the ligature, extracted as U+FB01) and
# the Overleaf template's guidance paragraph left at its end, as students leave it.
GUIDANCE_TITLE = "Finding Whale Calls with Classification Trees"
GUIDANCE_TEX = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Finding Whale Calls with Classification Trees}
\author{\IEEEauthorblockN{Group 7}
\IEEEauthorblockA{Machine Learning for Audio, Example University}}
\maketitle
\begin{abstract}
We find whale calls in hydrophone recordings with classification trees. \lipsum[1][1-3]
\end{abstract}
\begin{IEEEkeywords}
audio, whales, trees
\end{IEEEkeywords}
\section{Introduction}
\lipsum[1-12]
\vspace{12pt}
IEEE conference templates contain guidance text for composing and formatting conference papers.
Please ensure that all template text is removed from your conference paper prior to submission
to the conference.
\end{document}
"""

HANDOUT_LIKE = r"""\documentclass[11pt]{article}
\usepackage{lipsum}
\begin{document}
\begin{center}
{\Large Integrating a Classifier into an Audio Pipeline}\\[4pt]
ML for Audio 101: Assignment \#2\\
Due: March 2, 2026
\end{center}
In this assignment, you will integrate the layers you built in Assignment 1. \lipsum[1-5]
\end{document}
"""

# One reference URL that cannot be broken runs past the right column into the margin.
URL_OVERFLOW = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Bird Song Detection With an Overlong Reference}
\author{\IEEEauthorblockN{Ada Lovelace}
\IEEEauthorblockA{Example University}}
\maketitle
\begin{abstract}
We detect bird songs in short clips. \lipsum[1][1-4]
\end{abstract}
\section{Introduction}
\lipsum[1-13]
\newpage
\begin{thebibliography}{1}
\bibitem{a} \lipsum[1][1-2]
\bibitem{b} Available: \mbox{\texttt{http://example.org/projects/2011/BirdSongReport.pdf}}
\end{thebibliography}
\end{document}
"""

# A wide table on its own landscape page (pdflscape turns the page with /Rotate 90).
LANDSCAPE_TABLE = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\usepackage{pdflscape}
\begin{document}
\title{Bird Song Detection With a Landscape Table}
\author{\IEEEauthorblockN{Ada Lovelace}
\IEEEauthorblockA{Example University}}
\maketitle
\begin{abstract}
We detect bird songs in short clips. \lipsum[1][1-4]
\end{abstract}
\section{Introduction}
\lipsum[1-6]
\begin{landscape}
\begin{table}[p]
\centering
\caption{Methods compared}
\begin{tabular}{llll}
Approach & Complexity & Output & Notes\\ \hline
Spectrogram CNN & training on large data sets & robust outputs & smooth segmentation\\
Recurrent network & fewer parameters & weaker spatial consistency & needs post-processing\\
Nearest neighbour & limited adaptability & lower accuracy & easy to explain\\
\end{tabular}
\end{table}
\end{landscape}
\section{Method}
\lipsum[7-12]
\end{document}
"""

# Overleaf's IEEE conference template as it comes (conference_101719.tex): its title block.
OVERLEAF_SAMPLE_LIKE = r"""\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Conference Paper Title*\\
{\footnotesize \textsuperscript{*}Note: Sub-titles are not captured for indexing}}
\author{\IEEEauthorblockN{1\textsuperscript{st} Given Name Surname}
\IEEEauthorblockA{dept. name of organization (of Aff.)}}
\maketitle
\begin{abstract}
This document is a stand-in for the template's sample. \lipsum[1][1-3]
\end{abstract}
\section{Introduction}
\lipsum[1-3]
\end{document}
"""

# name -> (LaTeX source, expected page count)
FIXTURES: dict[str, tuple[str, int]] = {
    "ieee_croatian.pdf": (CROATIAN, 2),
    "ieee_compsoc.pdf": (COMPSOC, 2),
    "ieee_no_keywords.pdf": (NO_KEYWORDS, 2),
    "ieeetran_howto_like.pdf": (HOWTO_LIKE, 6),
    "word_template_sample.pdf": (WORD_SAMPLE, 1),
    "group_paper.pdf": (GROUP_TEX, 3),
    "bare_demo_like.pdf": (BARE_DEMO_LIKE, 1),
    "group_paper_guidance.pdf": (GUIDANCE_TEX, 2),
    "handout_like.pdf": (HANDOUT_LIKE, 2),
    "ieee_url_overflow.pdf": (URL_OVERFLOW, 2),
    "ieee_landscape_table.pdf": (LANDSCAPE_TABLE, 3),
    "overleaf_sample_like.pdf": (OVERLEAF_SAMPLE_LIKE, 1),
}


def main() -> None:
    """Build every fixture of this folder, or the ones named on the command line."""
    build_all(FIXTURES, HERE, set(sys.argv[1:]))


if __name__ == "__main__":
    main()
