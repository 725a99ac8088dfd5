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

# name -> (LaTeX source, expected page count)
FIXTURES: dict[str, tuple[str, int]] = {
    "ieee_croatian.pdf": (CROATIAN, 2),
    "ieee_compsoc.pdf": (COMPSOC, 2),
    "ieee_no_keywords.pdf": (NO_KEYWORDS, 2),
    "ieeetran_howto_like.pdf": (HOWTO_LIKE, 6),
    "word_template_sample.pdf": (WORD_SAMPLE, 1),
    "group_paper.pdf": (GROUP_TEX, 3),
}


def main() -> None:
    """Build every fixture of this folder, or the ones named on the command line."""
    build_all(FIXTURES, HERE, set(sys.argv[1:]))


if __name__ == "__main__":
    main()
