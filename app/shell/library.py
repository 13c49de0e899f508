"""The program library: the built-in programs in ``assets/programs/`` plus a folder of the station's own.

Every file is validated against the station's caps (the config's ``[safety]``). A broken file never
stops the others from loading: it is left out and its problems are kept in :attr:`Library.problems`,
so the home screen still offers every good program and ``backstep programs list`` can say which file
to fix. Programs are read once, when the library is loaded; nothing here watches the folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.caps import Caps
from ..core.program import MAX_FILE_BYTES, Problem, Program, parse_program_text
from ..core.record import Record, field
from ..errors import UserError
from ..paths import assets_dir
from .textfile import TextFileError, read_text_file

#: The appliance's folder for a clinic's own programs (FHS, beside /etc/backstep/config.toml).
APPLIANCE_PROGRAMS_DIR = Path("/etc/backstep/programs")


def builtin_programs_dir() -> Path:
    return assets_dir() / "programs"


def user_programs_dir() -> Path:
    """Where a station's own programs live: ``$BACKSTEP_PROGRAMS``, then ``/etc/backstep/programs``
    on the appliance, then ``$XDG_CONFIG_HOME/backstep/programs`` on a desktop."""
    env = os.environ.get("BACKSTEP_PROGRAMS")
    if env:
        return Path(env)
    if APPLIANCE_PROGRAMS_DIR.is_dir():
        return APPLIANCE_PROGRAMS_DIR
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "backstep" / "programs"


def hub_programs_dir(config=None) -> Path:
    """Where ``backstep sync`` keeps the programs the clinic's therapists put on the hub
    (``backstep hub add-program``): beside the station's database, which the sync may write
    (docs/hub.md)."""
    from ..paths import default_db_path

    return default_db_path(config.store.db_path if config is not None else "").parent / "hub-programs"


def load_program_file(path: str | os.PathLike, caps: Caps | None = None) -> tuple[Program | None, list[Problem]]:
    """Read and validate one program file. Never raises for a bad or missing file: an unreadable,
    missing, non-regular (FIFO, device), oversized or non-UTF-8 file comes back as one problem
    naming the file and what to do. The size bound is :data:`~app.core.program.MAX_FILE_BYTES`."""
    source = str(path)
    try:
        text = read_text_file(path, MAX_FILE_BYTES, "program file (.toml)")
    except TextFileError as exc:
        return None, [Problem(source, exc.line, "file", str(exc))]
    return parse_program_text(text, source, caps)


def expand_program_files(names: list[str]) -> list[str]:
    """Files as given; a folder stands for its ``*.toml`` files (``check assets/programs``)."""
    files = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.toml"))
            if not found:
                raise UserError(f"{name}: no .toml program files in this folder")
            files.extend(found)
        else:
            files.append(name)
    return files


def _file_problem(source: str, message: str) -> Problem:
    return Problem(source, None, "file", message)


def home_order(program: Program) -> tuple:
    """Sort key for the home screen, gentlest first, so a beginner meets the beginner program first.

    docs/practice.md "Dose and progression" adds one thing at a time: speed, then turning, then incline,
    and the rails come off last. So: ordinary before advanced; flat before incline; one direction
    before turnarounds; then the lowest top speed, then the shortest."""
    top_speed = max((p.speed_kmh for p in program.phases), default=0.0)
    uses_incline = any(p.incline_pct > 0 for p in program.phases)
    turns = len({p.direction for p in program.phases}) > 1
    return (program.advanced, uses_incline, turns, round(top_speed, 2), program.total_seconds, program.name.lower(), program.id)


class Library(Record, frozen=False):
    """Programs ready to run, and the files that could not be loaded."""

    #: Good programs, in home-screen order (see :func:`home_order`).
    programs: tuple[Program, ...] = ()
    #: Every problem that kept a file out of the library (errors; one file may have several).
    problems: tuple[Problem, ...] = ()
    #: Warnings on programs that did load (advice such as "above 3.5 mph"); they do not stop a program.
    warnings: tuple[Problem, ...] = ()
    #: Folders that were read, built-in first.
    folders: tuple[Path, ...] = ()
    #: Sources of good files left out because their id was already taken by an earlier file.
    duplicates: tuple[str, ...] = ()
    #: The caps every program was validated with; a file given by path to :meth:`resolve` gets them too.
    caps: Caps = field(default_factory=Caps)
    #: Stem of each left-out file -> its source, so ``resolve("x")`` can explain why "x" is missing.
    _broken_stems: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.programs]

    @property
    def broken(self) -> list[str]:
        """Sources of the files that were left out, in the order they were read."""
        seen: list[str] = []
        for problem in self.problems:
            if problem.source not in seen:
                seen.append(problem.source)
        return seen

    def problems_for(self, source: str) -> list[Problem]:
        return [p for p in self.problems if p.source == source]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(source, reason)`` for every file left out, in reading order: the reason is the file's
        first problem in one line (``"x.toml line 3: phases[1].speed: ..."``) and how many more."""
        out = []
        for source in self.broken:
            problems = sorted(self.problems_for(source), key=problem_order)
            first = problems[0]
            where = Path(source).name + (f" line {first.line}" if first.line else "")
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            out.append((source, f"{where}: {first.field}: {first.message}{more}"))
        return out

    def skipped_note(self, width: int = 100) -> str:
        """One line for the staff page and ``doctor``: ``"2 program files left out: x.toml line 3:
        speed ...; y.toml: ..."``, each reason cut to fit; ``""`` when nothing was left out."""
        skipped = self.skipped
        if not skipped:
            return ""
        head = f"{len(skipped)} program file{'' if len(skipped) == 1 else 's'} left out: "
        reasons = [reason if len(reason) <= width else reason[: width - 3] + "..." for _, reason in skipped]
        return head + "; ".join(reasons)

    def get(self, program_id: str) -> Program | None:
        for program in self.programs:
            if program.id == program_id:
                return program
        return None

    def resolve(self, id_or_path: str, caps: Caps | None = None) -> Program:
        """A program by library id, or by the path of a program file (validated with *caps*, by
        default the station caps the library was loaded with).

        :raises UserError: naming the id and the ids there are, or the file and its problems.
        """
        text = str(id_or_path).strip()
        if not text:
            raise UserError(f"no program given; use one of: {', '.join(self.ids) or '(none)'}, or the path of a .toml file")
        program = self.get(text)
        if program is not None:
            return program
        if _looks_like_path(text):
            program, problems = load_program_file(text, caps or self.caps)
            errors = [p for p in problems if p.severity == "error"]
            if program is None:
                raise UserError(_problem_message(text, errors or problems))
            return program
        broken = self._broken_stems.get(text)
        if broken:
            raise UserError(_problem_message(broken, self.problems_for(broken)))
        raise UserError(
            f"no program with id {text!r}; available: {', '.join(self.ids) or '(none)'} "
            "(or give the path of a .toml file; `backstep programs list` shows them all)"
        )


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or os.sep in text or "/" in text or Path(text).is_file()


def _problem_message(source: str, problems: list[Problem]) -> str:
    if len(problems) == 1:
        return str(problems[0])
    lines = sorted(problems, key=problem_order)
    return f"{source}: {len(lines)} problems:\n  " + "\n  ".join(str(p) for p in lines)


def problem_order(problem: Problem) -> tuple:
    """Problems of one file in reading order; those without a line (about the whole file) first."""
    return (problem.line is not None, problem.line or 0)


def load_library(config=None, extra_dirs=(), include_user_dir: bool = True) -> Library:
    """Read the built-in programs, then the station's own folder, then *extra_dirs*.

    :param config: a :class:`app.config.Config`; its ``safety.caps`` validate every program (defaults
        when None).
    :param extra_dirs: more folders of ``*.toml`` program files (a folder that does not exist is
        reported as a problem, because someone asked for it by name).
    :param include_user_dir: read :func:`user_programs_dir` too (skipped quietly when it does not exist).

    An id used twice keeps the first program read (the built-in one) and reports the later file, so a
    copied file can never silently replace a program therapists know.
    """
    caps = config.safety.caps if config is not None else Caps()
    folders: list[tuple[Path, bool]] = [(builtin_programs_dir(), True)]
    if include_user_dir:
        folders.append((user_programs_dir(), False))
        # The clinic's programs from the hub (docs/hub.md), checked like any file here.
        folders.append((hub_programs_dir(config), False))
    folders.extend((Path(d), True) for d in extra_dirs)

    programs: dict[str, Program] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    broken_stems: dict[str, str] = {}
    duplicates: list[str] = []
    read: list[Path] = []
    for folder, must_exist in folders:
        if folder in read:
            continue
        files = _program_files(folder, must_exist, problems)
        if files is None:
            continue
        read.append(folder)
        for path in files:
            try:
                program, found = load_program_file(path, caps)
            except Exception as exc:  # noqa: BLE001 - one file, whatever it holds, never stops the kiosk
                program, found = None, [_file_problem(str(path), f"could not be checked ({type(exc).__name__}); "
                                                                 "run `backstep programs check` on it")]
            if program is None:
                problems.extend(sorted(found, key=problem_order))
                broken_stems.setdefault(path.stem, str(path))
                continue
            if program.id in programs:
                first = programs[program.id].source
                problems.append(Problem(str(path), None, "id", f"{program.id!r} is already used by {first}; give this program another id"))
                duplicates.append(str(path))
                continue
            programs[program.id] = program
            warnings.extend(sorted(found, key=problem_order))
    ordered = tuple(sorted(programs.values(), key=home_order))
    return Library(ordered, tuple(problems), tuple(warnings), tuple(read), tuple(duplicates), caps, broken_stems)


def _program_files(folder: Path, must_exist: bool, problems: list[Problem]) -> list[Path] | None:
    try:
        if not folder.is_dir():
            if must_exist:
                problems.append(_file_problem(str(folder), "programs folder not found; check the path"))
            return None
        return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))
    except OSError as exc:
        problems.append(_file_problem(str(folder), f"programs folder cannot be read ({exc.strerror or exc}); check its permissions"))
        return None
