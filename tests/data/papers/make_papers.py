"""Regenerate the committed paper fixtures in this folder (needs pdflatex, see below).

    apt-get install -y texlive-publishers texlive-latex-extra texlive-fonts-recommended
    python tests/data/papers/make_papers.py

CI does not install TeX: the PDFs are committed next to this script. Bad PDFs (empty,
truncated, encrypted, ...) are made by the tests at run time instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Collection
from pathlib import Path

import pypdf

HERE = Path(__file__).resolve().parent

IEEE_HEAD = r"""\documentclass[conference%(opts)s]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{Sound Event Detection with Tiny Convolutional Networks}
\author{\IEEEauthorblockN{Ada Lovelace and Alan Turing}
\IEEEauthorblockA{Machine Learning for Audio, Example University}}
\maketitle
\begin{abstract}
\lipsum[1][1-6]
\end{abstract}
\begin{IEEEkeywords}
audio, sound event detection, convolutional networks
\end{IEEEkeywords}
\section{Introduction}
"""

REFS = r"""
\begin{thebibliography}{9}
\bibitem{a} A. Author, ``A paper about audio,'' in \emph{Proc. ICASSP}, 2020, pp. 1--5.
\bibitem{b} B. Author, ``Another paper about audio,'' \emph{IEEE TASLP}, vol. 1, 2021.
\bibitem{c} C. Author, ``Yet another paper,'' in \emph{Proc. DCASE}, 2022.
\end{thebibliography}
\end{document}
"""


def ieee(body_paragraphs: int, *, a4: bool = False, refs_on_new_page: bool = False) -> str:
    """An IEEEtran conference paper with about ``body_paragraphs`` lipsum paragraphs."""
    head = IEEE_HEAD % {"opts": ",a4paper" if a4 else ""}
    sections = []
    for i in range(0, body_paragraphs, 6):
        last = min(i + 6, body_paragraphs)
        sections.append(f"\\section{{Part {i // 6 + 1}}}\n\\lipsum[{i % 150 + 1}-{last % 150}]\n")
    body = "\\lipsum[1-2] Prior work \\cite{a,b,c}.\n" + "".join(sections)
    return head + body + ("\\clearpage\n" if refs_on_new_page else "") + REFS


ARTICLE = r"""\documentclass[10pt,letterpaper]{article}
\usepackage{lipsum}
\begin{document}
\title{A One-Column Report}
\author{Some Student}
\maketitle
\begin{abstract}\lipsum[1][1-4]\end{abstract}
\section{Introduction}
\lipsum[1-7]
\section*{References}
[1] A. Author, A paper about audio, 2020.
\end{document}
"""

WORD_LIKE = r"""\documentclass[11pt]{article}
\usepackage[letterpaper,margin=1in]{geometry}
\usepackage[T1]{fontenc}
\usepackage[scaled]{helvet}
\renewcommand{\familydefault}{\sfdefault}
\usepackage{lipsum}
\pagestyle{empty}
\begin{document}
\noindent\textbf{\Large Project Report: Audio Classification}\par\bigskip
\lipsum[1-9]
\end{document}
"""

# Without cm-super, T1-encoded Computer Modern (EC) exists only as METAFONT bitmaps, which
# pdfTeX embeds as Type 3 fonts: exactly what a careless LaTeX setup produces.
TYPE3 = r"""\documentclass[conference]{IEEEtran}
\renewcommand{\rmdefault}{cmr}
\usepackage[T1]{fontenc}
\usepackage{lipsum}
\begin{document}
\title{A Paper With Bitmap Fonts}
\author{\IEEEauthorblockN{Some Student}}
\maketitle
\section{Introduction}
\lipsum[1-4]
\end{document}
"""

# A map line without a font file makes pdfTeX reference Times-Roman without embedding it.
UNEMBEDDED = r"""\pdfmapline{=ptmr8r Times-Roman "TeXBase1Encoding ReEncodeFont" <8r.enc}
\pdfmapline{=ptmb8r Times-Bold "TeXBase1Encoding ReEncodeFont" <8r.enc}
\pdfmapline{=ptmri8r Times-Italic "TeXBase1Encoding ReEncodeFont" <8r.enc}
\documentclass[conference]{IEEEtran}
\usepackage{lipsum}
\begin{document}
\title{A Paper With Unembedded Fonts}
\author{\IEEEauthorblockN{Some Student}}
\maketitle
\section{Introduction}
\lipsum[1-4]
\end{document}
"""

SLIDES = r"""\documentclass[aspectratio=169]{beamer}
\begin{document}
\begin{frame}{Sound Event Detection}Our project in three slides.\end{frame}
\begin{frame}{Method}\begin{itemize}\item CNN\item Mel spectrograms\end{itemize}\end{frame}
\begin{frame}{Results}It works.\end{frame}
\end{document}
"""

FIGURE = r"""\documentclass[border=4pt]{standalone}
\begin{document}
\begin{picture}(120,80)
\put(0,0){\line(1,0){120}}\put(0,0){\line(0,1){80}}
\put(0,0){\line(3,2){110}}\put(60,-10){\makebox(0,0){epoch}}
\end{picture}
\end{document}
"""

# name -> (LaTeX source, expected page count)
FIXTURES: dict[str, tuple[str, int]] = {
    "ieee_letter_2p.pdf": (ieee(6), 2),
    "ieee_letter_4p.pdf": (ieee(32), 4),
    "ieee_a4_4p.pdf": (ieee(32, a4=True), 4),
    "ieee_letter_5p_refs5.pdf": (ieee(36, refs_on_new_page=True), 5),
    "ieee_letter_5p.pdf": (ieee(44), 5),
    "article_onecol.pdf": (ARTICLE, 2),
    "word_like.pdf": (WORD_LIKE, 2),
    "type3_fonts.pdf": (TYPE3, 1),
    "unembedded_fonts.pdf": (UNEMBEDDED, 1),
    "slides.pdf": (SLIDES, 3),
    "figure.pdf": (FIGURE, 1),
}


def build(name: str, source: str, pages: int, work: Path, out: Path = HERE) -> None:
    """Compile one fixture twice (for citations) in ``work`` and copy it to ``out``, checking
    the page count; exits with pdflatex's log tail when it fails."""
    tex = work / (Path(name).stem + ".tex")
    tex.write_text(source, encoding="utf-8")
    for _ in range(2):
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "FORCE_SOURCE_DATE": "1"},
        )
        if proc.returncode != 0:
            sys.exit(f"{name}: pdflatex failed:\n{proc.stdout[-3000:]}")
    pdf = tex.with_suffix(".pdf")
    got = len(pypdf.PdfReader(pdf).pages)
    if got != pages:
        sys.exit(f"{name}: expected {pages} pages, got {got}; adjust the lipsum amount")
    shutil.copyfile(pdf, out / name)
    print(f"{name}: {got} pages, {pdf.stat().st_size // 1024} KiB")


def build_all(fixtures: dict[str, tuple[str, int]], out: Path, only: Collection[str] = ()) -> None:
    """Build ``fixtures`` (name -> (LaTeX source, pages)), or just the ``only`` names, into
    ``out`` from a scratch folder (SOURCE_DATE_EPOCH keeps them reproducible)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, (source, pages) in fixtures.items():
            if not only or name in only:
                build(name, source, pages, Path(tmp), out)


def main() -> None:
    """Build every fixture of this folder, or the ones named on the command line."""
    build_all(FIXTURES, HERE, set(sys.argv[1:]))


if __name__ == "__main__":
    main()
