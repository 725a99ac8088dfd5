"""README step classification as an ordered table of rules: the first rule that matches decides.

Each :class:`Rule` has a name, the :class:`StepKind` it gives, the reason shown to the student
and grader (a ``str.format`` template over :class:`Part`'s fields), and a predicate over the
facts of one simple command (:class:`Part`). :data:`RULES` lists them in the order they are
tried, in the manner of the environment detectors in :mod:`repograder.detect`. Order matters
where two rules match the same command; ``tests/unit/test_readme_rules.py`` pins those pairs
(a developer step before the tool's set-up rule, an activation script before the Windows
script rule, ``pip freeze`` before "runs pip").

Two things happen before the table: the words are normalised (``sudo``, ``VAR=1``, ``!``,
``py -3.10``'s version option, ``venv/bin/X`` as ``X``) and a tool runner (``poetry run X``,
``conda run -n env X``) is unwrapped, so the command behind it is classified by the same
table (which therefore has no rule for ``run`` of those tools). Compound commands (``a && b``) are
classified part by part and the most significant part's kind wins (:func:`classify`).

To add a rule: put a :class:`Rule` into :data:`RULES` before the first rule that would
otherwise match the commands it is for, give it a reason a student understands, and add its
command to ``ORDERED_PAIRS`` in the test when it overrides a later rule.

Kept whole: the rules are one ordered table, read top to bottom; split over modules, which
rule is tried first would no longer be visible in one place.

Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from repograder import readme_translate
from repograder.facts import StepKind
from repograder.readme_commands import (
    RawCommand,
    effective_words,
    env_program,
    placeholder_reason,
    split_compound,
    split_parts,
    substitutions,
    wordset,
)


@dataclass(frozen=True)
class Context:
    """What classification of one command needs to know about the README around it."""

    windows_block: bool = False
    clone_seen: bool = False  # an earlier step cloned the project
    after_clone: bool = False  # the previous step cloned the project
    clone_dir: str = ""  # the folder that clone made ("" when unknown)
    # an earlier part of the same command started a program in the background
    # (`python app.py & sleep 5 && curl localhost:5000`): a local server this command starts
    background: bool = False


_PIP_RE = re.compile(r"pip3?(?:\.\d{1,2})?")
_SHELL_SETTINGS = re.compile(r"(?:^|/)(?:\.bashrc|\.zshrc|\.profile|\.bash_profile|env)$")
_PIPED_TO_SHELL = re.compile(r"\|\s*(?:sudo\s+)?(?:ba|z)?sh\b|\|\s*python")
# `curl URL | sh` (or `| python3 -`): a tool's installer. Its two parts are found in the split
# command (`split_compound` keeps the `|`), so what else the command does is still classified.
_DOWNLOADERS = frozenset({"curl", "wget"})
_SHELLS = frozenset({"sh", "bash", "zsh", "python", "python3"})
# The URL's host is the local one: at a word's start, after `scheme://` or after `user@` there.
_LOCAL_URL = re.compile(
    r"(?:^|[\s\"']|://)(?:[^\s/@\"']{1,100}@)?(?:localhost|127\.0\.0\.1|0\.0\.0\.0)"
    r"(?=[:/\s\"']|$)"
)
_MAKE_SETUP_TARGETS = wordset("install setup deps dependencies requirements env venv init")
_ENV_TOOLS = wordset("poetry pipenv pdm hatch uv")
_ENV_TOOL_SUBCOMMANDS = wordset("install sync venv lock add update env init pip python")
_JUPYTER_NON_UI = wordset("nbconvert execute kernelspec --version labextension nbextension")
_JUPYTER_UI = "opens the Jupyter web UI (interactive); the notebooks are executed separately"
_PYTHON_SHELL = "starts an interactive Python shell"
# Programs that open a UI, a server or a session that does not end by itself.
INTERACTIVE_PROGRAMS: dict[str, str] = {
    "streamlit": "starts a Streamlit app (web server)",
    "gradio": "starts a Gradio app (web server)",
    "uvicorn": "starts a web server",
    "gunicorn": "starts a web server",
    "hypercorn": "starts a web server",
    "tensorboard": "starts TensorBoard (web server)",
    "docker": "uses Docker: not available inside the sandbox",
    "docker-compose": "uses Docker: not available inside the sandbox",
    "podman": "uses containers: not available inside the sandbox",
    "open": "opens a file in a desktop application",
    "xdg-open": "opens a file in a desktop application",
    "ipython": _PYTHON_SHELL,
    "code": "opens an editor",
    "vim": "opens an editor",
    "vi": "opens an editor",
    "nano": "opens an editor",
    "emacs": "opens an editor",
    "label-studio": "starts a web server",
    "ngrok": "opens a tunnel: long-running",
    "ssh": "opens a remote shell",
    "htop": "interactive monitor",
    "tmux": "starts a terminal multiplexer session (interactive)",
    "screen": "starts a terminal multiplexer session (interactive)",
    "top": "interactive monitor",
    "watch": "repeats forever",
    "less": "interactive pager",
    "more": "interactive pager",
}


@dataclass(frozen=True)
class Part:
    """The facts of one simple command that the rules look at.

    ``words``: the command's words after :func:`effective_words` (and without ``py``'s
    ``-3.10`` option); ``lower``: the first word in lower case; ``sub``: the second word;
    ``module``: the module of ``python -m MODULE``; ``pip_args``: the arguments after ``pip``
    (``pip``, ``python -m pip``, ``uv pip``), None when the command is not pip.
    """

    text: str
    words: tuple[str, ...]
    ctx: Context
    lower: str
    sub: str
    is_python: bool
    module: str
    pip_args: tuple[str, ...] | None

    @classmethod
    def of(cls, text: str, words: tuple[str, ...], ctx: Context | None = None) -> Part:
        """Derive the facts from the command's text and (non-empty) words."""
        lower = words[0].lower()
        sub = words[1] if len(words) > 1 else ""
        is_python = readme_translate.is_interpreter(lower)
        module = words[2] if len(words) > 2 and sub == "-m" else ""
        pip_args: tuple[str, ...] | None = None
        if _PIP_RE.fullmatch(lower):
            pip_args = words[1:]
        elif is_python and module == "pip":
            pip_args = words[3:]
        elif lower == "uv" and sub == "pip":
            pip_args = words[2:]
        return cls(text, words, ctx or Context(), lower, sub, is_python, module, pip_args)

    def fields(self) -> dict[str, Any]:
        """The values a rule's reason template may name."""
        env_what = self.words[:3] if self.sub == "env" else self.words[:2]
        return {
            "lower": self.lower,
            "sub": self.sub,
            "module": self.module,
            "what": " ".join(env_what),
            "program": INTERACTIVE_PROGRAMS.get(self.lower, ""),
        }


@dataclass(frozen=True)
class Rule:
    """One row of the table: ``when`` the part matches, it is of ``kind`` for ``reason``."""

    name: str
    kind: StepKind
    reason: str  # a str.format template over Part.fields()
    when: Callable[[Part], bool]

    def explain(self, part: Part) -> str:
        """The reason for ``part``, with the template's fields filled in."""
        return self.reason.format(**part.fields())


def _pip_install(part: Part) -> bool:
    args = part.pip_args
    return args is not None and args[:1] in (("install",), ("uninstall",))


def _pip_requirements(part: Part) -> bool:
    args = part.pip_args or ()
    return _pip_install(part) and ("-r" in args or any(a.startswith("--requirement") for a in args))


def _pip_project(part: Part) -> bool:
    args = part.pip_args or ()
    return _pip_install(part) and ("-e" in args or "." in args or "--editable" in args)


def _pip_freeze(part: Part) -> bool:
    args = part.pip_args
    return args is not None and args[:1] == ("freeze",)


def _dependency_change(part: Part) -> bool:
    if part.lower == "pipenv" and part.sub == "update":
        return False  # pipenv update installs the locked packages
    return part.lower in ("poetry", "uv", "pdm", "pipenv") and part.sub in (
        "add",
        "remove",
        "lock",
        "update",
    )


def _is_activation(part: Part) -> bool:
    words = part.words
    first = words[0]
    target = words[1] if len(words) > 1 else ""
    if first in ("source", ".") and (
        target.endswith(("/activate", "activate.fish", "activate.csh")) or target == "activate"
    ):
        return True
    if first in ("conda", "mamba", "micromamba") and target in ("activate", "deactivate", "init"):
        return True
    lowered = first.lower().replace("/", "\\")
    return first in ("activate", "deactivate") or lowered.endswith(
        ("\\activate", "\\activate.bat", "\\activate.ps1")
    )


def _jupyter_ui(part: Part) -> bool:
    if part.lower in ("jupyter", "jupyter-notebook", "jupyter-lab", "voila"):
        return part.sub not in _JUPYTER_NON_UI
    words = part.words
    notebook_ui = len(words) > 3 and words[3] not in ("nbconvert", "execute")
    return part.is_python and part.module in ("jupyter", "notebook", "jupyterlab") and notebook_ui


def _py(test: Callable[[Part], bool]) -> Callable[[Part], bool]:
    return lambda p: p.is_python and test(p)


def _first(*names: str) -> Callable[[Part], bool]:
    return lambda p: p.lower in names


def _sub(names: tuple[str, ...], subs: tuple[str, ...]) -> Callable[[Part], bool]:
    return lambda p: p.lower in names and p.sub in subs


_CONDA = ("conda", "mamba", "micromamba")
_ENV_BUILD = "covered by the environment build"
REQUIREMENTS_REASON = "installs the requirements file: " + _ENV_BUILD
PROJECT_REASON = "installs the project: " + _ENV_BUILD
DEPENDENCY_REASON = (
    "installs a dependency from its source repository: the environment is built from the "
    "dependency files (list it there)"
)

LOCAL_CLIENT_REASON = (
    "sends a request to a local server that another step starts: needs that server running"
)

RULES: tuple[Rule, ...] = (
    # Developer steps: they change the project, they are not the reader's instructions.
    Rule(
        "pip-freeze",
        StepKind.NOT_APPLICABLE,
        "a developer step (pip freeze writes the requirements list): not run",
        _pip_freeze,
    ),
    Rule(
        "dependency-change",
        StepKind.NOT_APPLICABLE,
        "a developer step ({lower} {sub} changes the dependency list): not run",
        _dependency_change,
    ),
    Rule(
        "pre-commit",
        StepKind.NOT_APPLICABLE,
        "a developer step (pre-commit hooks): not run",
        lambda p: p.lower == "pre-commit" or (p.is_python and p.module == "pre_commit"),
    ),
    Rule(
        "git-publish",
        StepKind.NOT_APPLICABLE,
        "a developer step (git {sub}): not run",
        _sub(("git",), ("add", "commit", "push")),
    ),
    # The grader's shell and checkout already are what these set up.
    Rule(
        "shell-settings",
        StepKind.NOT_APPLICABLE,
        "loads shell settings: the grader's shell has its own",
        lambda p: (
            p.lower in ("source", ".") and len(p.words) > 1 and bool(_SHELL_SETTINGS.search(p.sub))
        ),
    ),
    Rule(
        "local-server-client",
        StepKind.INTERACTIVE,
        LOCAL_CLIENT_REASON,
        lambda p: (
            p.lower in ("curl", "wget", "http", "https")
            and bool(_LOCAL_URL.search(p.text))
            and not p.ctx.background
        ),
    ),
    Rule(
        "activation",
        StepKind.NOT_APPLICABLE,
        "activates an environment: the grader's shell already uses it",
        _is_activation,
    ),
    Rule(
        "windows-script",
        StepKind.PLATFORM,
        "a Windows script (PowerShell or batch): cannot run on Linux",
        lambda p: p.lower.endswith((".ps1", ".bat", ".cmd")),
    ),
    Rule(
        "clone-project",
        StepKind.NOT_APPLICABLE,
        "clones the project: the grader already has the checkout",
        lambda p: p.lower == "git" and p.sub == "clone" and not p.ctx.clone_seen,
    ),
    Rule(
        "clone-other",
        StepKind.RUN,
        "clones another repository (needs network access)",
        _sub(("git",), ("clone",)),
    ),
    Rule(
        "cd-into-clone",
        StepKind.NOT_APPLICABLE,
        "changes into the cloned folder: the grader starts there",
        # only into the clone's own folder: `cd src` after a clone is a folder of the project
        lambda p: (
            p.lower == "cd"
            and p.ctx.after_clone
            and (not p.ctx.clone_dir or p.sub.rstrip("/") == p.ctx.clone_dir)
        ),
    ),
    Rule(
        "cd-placeholder",
        StepKind.NOT_APPLICABLE,
        "changes into the project folder: the grader starts there",
        lambda p: p.lower == "cd" and placeholder_reason(p.text) is not None,
    ),
    Rule(
        "interpreter-manager",
        StepKind.NOT_APPLICABLE,
        "{lower} selects an interpreter: the environment has one",
        _first("pyenv", "nvm"),
    ),
    # Environment set-up: the environment build does it from the dependency files.
    Rule(
        "pip-requirements",
        StepKind.ENV,
        REQUIREMENTS_REASON,
        _pip_requirements,
    ),
    Rule("pip-project", StepKind.ENV, PROJECT_REASON, _pip_project),
    Rule(
        "pip-packages",
        StepKind.ENV,
        "installs packages: the environment is built from the dependency files "
        "(steps run without network)",
        _pip_install,
    ),
    Rule("pip-other", StepKind.RUN, "runs pip", lambda p: p.pip_args is not None),
    Rule(
        "setup-py-install",
        StepKind.ENV,
        PROJECT_REASON,
        _py(lambda p: p.sub == "setup.py" and p.words[2:3] in (("install",), ("develop",))),
    ),
    Rule(
        "python-venv",
        StepKind.ENV,
        "creates a virtual environment: " + _ENV_BUILD,
        _py(lambda p: p.module in ("venv", "virtualenv")),
    ),
    Rule(
        "env-tool",
        StepKind.ENV,
        "{lower}: " + _ENV_BUILD,
        _first("virtualenv", "pip-compile", "pip-sync"),
    ),
    Rule("conda", StepKind.ENV, "{what}: " + _ENV_BUILD, _first(*_CONDA)),
    Rule(
        "env-tool-shell",
        StepKind.INTERACTIVE,
        "{lower} shell opens an interactive shell",
        _sub(tuple(_ENV_TOOLS), ("shell",)),
    ),
    Rule(
        "poetry-env",
        StepKind.NOT_APPLICABLE,
        "selects an interpreter: the environment has one",
        _sub(("poetry",), ("env",)),
    ),
    Rule(
        "env-tool-setup",
        StepKind.ENV,
        "{lower} {sub}: " + _ENV_BUILD,
        _sub(tuple(_ENV_TOOLS), tuple(_ENV_TOOL_SUBCOMMANDS)),
    ),
    Rule("env-tool-other", StepKind.RUN, "runs {lower}", _first(*_ENV_TOOLS)),
    Rule(
        "make-setup-target",
        # Without the Makefile's recipe (readme.make_kinds reads it), the target's name.
        StepKind.ENV,
        "make {sub}: installs (by the target's name)",
        lambda p: p.lower == "make" and p.sub in _MAKE_SETUP_TARGETS and len(p.words) == 2,
    ),
    Rule(
        "system-packages",
        StepKind.ENV,
        "installs system packages: the sandbox image provides them",
        _first("apt", "apt-get", "dnf", "yum", "pacman", "apk"),
    ),
    Rule(
        "macos-packages",
        StepKind.PLATFORM,
        "macOS-only (Homebrew/MacPorts)",
        _first("brew", "port"),
    ),
    Rule(
        "windows-packages",
        StepKind.PLATFORM,
        "Windows-only package manager",
        _first("choco", "winget", "scoop"),
    ),
    # Interactive or long-running by nature.
    Rule("jupyter-ui", StepKind.INTERACTIVE, _JUPYTER_UI, _jupyter_ui),
    Rule(
        "python-server",
        StepKind.INTERACTIVE,
        "starts a server (python -m {module}): long-running",
        _py(lambda p: p.module in ("http.server", "SimpleHTTPServer", "tensorboard.main", "flask")),
    ),
    Rule(
        "python-repl",
        StepKind.INTERACTIVE,
        _PYTHON_SHELL,
        _py(lambda p: len(p.words) == 1 or p.sub == "-i"),
    ),
    Rule(
        "python-runserver",
        StepKind.INTERACTIVE,
        "starts a development server: long-running",
        _py(lambda p: "runserver" in p.words),
    ),
    Rule(
        "interactive-program",
        StepKind.INTERACTIVE,
        "{program}",
        lambda p: p.lower in INTERACTIVE_PROGRAMS,
    ),
    Rule(
        "flask-run",
        StepKind.INTERACTIVE,
        "starts a Flask server: long-running",
        _sub(("flask",), ("run",)),
    ),
    Rule(
        "tool-server",
        StepKind.INTERACTIVE,
        "starts a {lower} server: long-running",
        _sub(("mlflow", "panel", "bokeh"), ("ui", "server", "serve")),
    ),
    Rule(
        "login",
        StepKind.INTERACTIVE,
        "asks for credentials interactively",
        _sub(("wandb", "huggingface-cli", "gh"), ("login",)),
    ),
    Rule(
        "dev-server",
        StepKind.INTERACTIVE,
        "starts a development server: long-running",
        _sub(("npm", "yarn"), ("start", "dev", "run")),
    ),
    Rule(
        "follow-file",
        StepKind.INTERACTIVE,
        "follows a file forever",
        lambda p: p.lower == "tail" and "-f" in p.words,
    ),
    Rule("command", StepKind.RUN, "runs a command", lambda p: True),
)


def make_part(text: str, ctx: Context) -> Part | None:
    """The facts of one simple command; None when it has no words."""
    words = effective_words(text)
    if not words:
        return None
    if (
        readme_translate.is_interpreter(words[0])
        and len(words) > 1
        and re.fullmatch(r"-3(?:\.\d{1,2})?", words[1])
    ):
        words = [words[0], *words[2:]]  # py -3.10 x.py: the version is a launcher option
    words = [env_program(words[0]), *words[1:]]  # venv/bin/jupyter: the environment's jupyter
    return Part.of(text, tuple(words), ctx)


def match(part: Part, rules: tuple[Rule, ...] = RULES) -> Rule:
    """The first rule of ``rules`` that matches ``part`` (the table ends in a catch-all)."""
    for rule in rules:
        if rule.when(part):
            return rule
    return RULES[-1]


def classify_part(text: str, ctx: Context, rules: tuple[Rule, ...] = RULES) -> tuple[StepKind, str]:
    """(kind, reason) of one simple command; a tool runner's inner command decides."""
    words = effective_words(text)
    inner = readme_translate.runner_inner(words)
    if inner is not None:
        # `poetry run X`: the command behind the runner decides, in the built environment.
        runner = " ".join(words[:2])
        if not inner:
            return StepKind.RUN, f"runs {runner} without a command"
        kind, reason = classify_part(" ".join(inner), ctx, rules)
        return kind, f"{reason} (through {runner})"
    part = make_part(text, ctx)
    if part is None:
        return StepKind.RUN, "runs a command"
    rule = match(part, rules)
    return rule.kind, rule.explain(part)


_KIND_PRIORITY = (
    StepKind.PLACEHOLDER,
    StepKind.INTERACTIVE,
    StepKind.RUN,
    StepKind.PLATFORM,
    StepKind.ENV,
    StepKind.NOT_APPLICABLE,
)


def _is_clone(part: str) -> bool:
    return effective_words(part)[:2] == ["git", "clone"]


# git clone options that take a value (git-clone(1)): the value is not the URL or folder.
_CLONE_VALUE_OPTIONS = wordset(
    "--depth -b --branch -o --origin --filter --reference --reference-if-able -c --config "
    "-j --jobs --separate-git-dir --template --shallow-since --shallow-exclude -u --upload-pack"
)


def clone_folder(part: str) -> str:
    """The folder ``git clone URL [DIR]`` makes: DIR, else the URL's last name without .git."""
    words = effective_words(part)[2:]
    args: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _CLONE_VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            args.append(word)
    if len(args) > 1:
        return args[1].rstrip("/")
    if not args:
        return ""
    name = re.split(r"[/:]", args[0].rstrip("/"))[-1]
    return name.removesuffix(".git")


def clone_info(head: str) -> tuple[bool, bool, str]:
    """(the command clones a repository, its last part is that clone, the clone's folder)."""
    parts = split_parts(head)
    last = _is_clone(parts[-1])
    return any(_is_clone(p) for p in parts), last, clone_folder(parts[-1]) if last else ""


# Commands that only print a value (a path, a name, a number) for a substitution: $(pwd).
_QUERY_COMMANDS = wordset(
    "pwd basename dirname which whoami uname date nproc realpath readlink id hostname echo "
    "printf cat"
)
INSTALLER_REASON = "installs a tool with a downloaded script: the sandbox has its tools"


def _installer_parts(compound: list[tuple[str, str]]) -> set[int]:
    """Indices of the parts that make up ``curl URL | sh`` pairs (sudo allowed on either)."""
    found: set[int] = set()
    for i in range(len(compound) - 1):
        left = effective_words(compound[i][1])
        sep, right_text = compound[i + 1]
        right = effective_words(right_text)
        if (
            sep == "|"
            and left[:1]
            and left[0] in _DOWNLOADERS
            and right[:1]
            and right[0] in _SHELLS
        ):
            found |= {i, i + 1}
    return found


def classify(cmd: RawCommand, ctx: Context, _depth: int = 0) -> tuple[StepKind, str]:
    """Classify one command (compound commands by their most significant part).

    Commands run by a substitution inside a part (``$(...)``, backticks, ``<(...)``) count as
    parts too: a run hidden in a set-up command is a run. A downloaded installer piped to a
    shell (``curl URL | sh``) is set-up wherever it stands, and the navigation around it
    (``cd /tmp &&``) with it; any other part is classified as usual.
    """
    results: list[tuple[StepKind, str]] = []
    compound = split_compound(cmd.head)
    installer = _installer_parts(compound)
    if installer:
        results.append((StepKind.ENV, INSTALLER_REASON))
    clone_seen = ctx.clone_seen
    after_clone = ctx.after_clone
    clone_dir = ctx.clone_dir
    background = False
    for index, (separator, part) in enumerate(compound):
        # `python app.py & sleep 5 && curl localhost:5000`: started in the background before
        background = background or separator == "&"
        if index in installer:
            continue
        words = effective_words(part)
        if installer and words[:1] and words[0] in _NOT_CODE:
            continue  # `cd /tmp && curl URL | sh`: the navigation belongs to the installer
        part_ctx = Context(ctx.windows_block, clone_seen, after_clone, clone_dir, background)
        kind, reason = classify_part(part, part_ctx)
        if kind in (StepKind.RUN, StepKind.INTERACTIVE):
            placeholder = placeholder_reason(part)
            if placeholder:
                kind, reason = StepKind.PLACEHOLDER, placeholder
        after_clone = _is_clone(part) and not clone_seen
        clone_dir = clone_folder(part) if after_clone else ""
        clone_seen = clone_seen or _is_clone(part)
        results.append((kind, reason))
        if _depth < 3:
            # `pip install $(python train.py)`: the shell runs the inner command first, so a
            # set-up word outside cannot hide it (an inner query such as $(pwd) changes nothing).
            # Only a run counts: an inner server or placeholder must not hide the outer run.
            for inner in substitutions(part):
                words = effective_words(inner)
                if words and words[0] not in _QUERY_COMMANDS:
                    inner_kind, inner_reason = classify(
                        RawCommand(inner, cmd.line, inner), ctx, _depth + 1
                    )
                    if inner_kind == StepKind.RUN:
                        results.append((inner_kind, f"{inner_reason} (inside $(...) or `...`)"))
    for wanted in _KIND_PRIORITY:
        for kind, reason in results:
            if kind == wanted:
                others = {k for k, _ in results} - {StepKind.RUN}
                if kind == StepKind.RUN and others:
                    reason = f"{reason} (also contains {', '.join(sorted(others))} parts)"
                return kind, reason
    return StepKind.RUN, "runs a command"


# Parts that prepare or look around rather than run the project's code (`cd app && streamlit
# run app.py` only starts a server).
_NOT_CODE = wordset(
    "cd mkdir export set ls echo wget curl chmod unzip tar cp mv rm touch cat git gdown kaggle "
    "source unset ln which where dir sleep pwd clear"
)
RUN_THEN_SERVE_REASON = (
    "runs the project's code, then starts something long-running: run; a failure before it "
    "fails the step, still running at the timeout counts as success"
)


def runs_code_then_serves(cmd: RawCommand, ctx: Context) -> bool:
    """``python train.py && tensorboard --logdir runs``: code runs first, joined by ``&&`` (so its
    failure ends the command with its exit code), then only interactive parts follow."""
    parts = split_compound(cmd.head)
    classified = [classify_part(part, ctx) for _, part in parts]
    if any(reason.startswith(LOCAL_CLIENT_REASON) for _, reason in classified):
        return False  # a client of a server another step starts would fail: not run
    kinds = [kind for kind, _ in classified]
    if StepKind.INTERACTIVE not in kinds:
        return False
    first = kinds.index(StepKind.INTERACTIVE)
    before = parts[:first]
    runs_code = any(
        kind == StepKind.RUN and (words := effective_words(part)) and words[0] not in _NOT_CODE
        for (_, part), kind in zip(before, kinds[:first], strict=True)
    )
    joined = all(sep == "&&" for sep, _ in parts[1 : first + 1])
    rest = all(k in (StepKind.INTERACTIVE, StepKind.NOT_APPLICABLE) for k in kinds[first:])
    return runs_code and joined and rest
