"""No f-string SQL: SQL text is a named file (``harmmap.db.query``) or a psycopg ``sql`` composition.

A value or a name pasted into SQL text by an f-string, ``%`` or ``.format`` is how injection starts, and it
changes the statement text from call to call, so psycopg cannot keep it prepared. This scans the Python
source of ``harmmap/``, ``etl/`` and ``web/`` with ``ast`` (no database) and fails naming ``file:line``.

What counts: a string built by an f-string, by ``%`` on a string, or by ``str.format``, whose literal text
contains an SQL statement keyword as a word, upper case as SQL is written here (so prose such as "select a
ward" is not SQL), and that is *used as SQL*: passed to ``execute``/``executemany``/``copy``/``stream`` or
to ``sql.SQL``, directly, through ``+``, or through a name assigned in the same module. Composing with
``sql.SQL("... {}").format(sql.Identifier(...))`` is the way to put names in, and is not flagged: its
``.format`` is on a Composable, not on a string.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("harmmap", "etl", "web")

SQL_WORD = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|VACUUM|COPY|TRUNCATE)\b")
#: Methods of psycopg connections and cursors that take SQL text, and psycopg's ``sql.SQL``.
SQL_SINKS = frozenset({"execute", "executemany", "copy", "stream", "SQL"})

#: Files allowed to build SQL text from values for a while: only ones another change is already reworking,
#: each with a comment saying which. The list only shrinks; test_the_allow_list_is_not_stale says when an
#: entry can go. It is empty: the read path (harmmap/reports.py, harmmap/briefing/, web/api/, ...) had none
#: left, and the ETL rework of issue 17 took out the last ones (etl/geo.py's stage tables and layer
#: columns, etl/crosswalk.py's weight column). Example entry:
#:     "etl/geo.py",  # issue 17, the ETL rework: stage tables named by f-string
ALLOWED: frozenset[str] = frozenset()


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: SQL text built with {self.how}"


#: At most this many ways one SQL argument can be spelled (through ``if``/``else`` and reassigned names).
_MAX_VARIANTS = 64


def _variants(node: ast.expr, assigned: dict[str, list[ast.expr]], seen: frozenset[str]) -> list[list[ast.expr]]:
    """Each way the string ``node`` can be made, as the pieces joined by ``+``: a name stands for each value
    assigned to it in the module, ``a if c else b`` for ``a`` and for ``b``."""
    if isinstance(node, ast.Name) and node.id in assigned and node.id not in seen:
        return [v for value in assigned[node.id] for v in _variants(value, assigned, seen | {node.id})][:_MAX_VARIANTS]
    if isinstance(node, ast.IfExp):
        return (_variants(node.body, assigned, seen) + _variants(node.orelse, assigned, seen))[:_MAX_VARIANTS]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _variants(node.left, assigned, seen)
                for b in _variants(node.right, assigned, seen)][:_MAX_VARIANTS]
    return [[node]]


def _template(node: ast.expr) -> ast.expr | None:
    """The string that ``node`` fills in with values (an f-string, ``text % x``, ``text.format(x)``), or None."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
        return node
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return node.left
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return node.func.value  # sql.SQL(...).format(...) has a Call here, whose text is no literal: not flagged
    return None


def _text(node: ast.expr, assigned: dict[str, list[ast.expr]], seen: frozenset[str]) -> str:
    """The literal text ``node`` can contain: string constants, an f-string's fixed parts, the template of
    ``%`` and ``.format``, followed through ``+``, ``if``/``else`` and names (each name once)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    if isinstance(node, ast.JoinedStr):
        return " ".join(_text(v, assigned, seen) for v in node.values if isinstance(v, ast.Constant))
    if (template := _template(node)) is not None:
        return _text(template, assigned, seen)
    if isinstance(node, ast.Name) and node.id in assigned and node.id not in seen:
        return " ".join(_text(value, assigned, seen | {node.id}) for value in assigned[node.id])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, assigned, seen) + " " + _text(node.right, assigned, seen)
    if isinstance(node, ast.IfExp):
        return _text(node.body, assigned, seen) + " " + _text(node.orelse, assigned, seen)
    return ""


_HOW = {ast.JoinedStr: "an f-string", ast.BinOp: "%", ast.Call: ".format"}


def _sql_argument(call: ast.Call) -> ast.expr | None:
    """The SQL text argument of a call to a sink: the first positional one, or ``query=``."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    if name not in SQL_SINKS:
        return None
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "query"), None)


def _assignments(tree: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value assigned to each plain name anywhere in the module (scopes are not told apart: a
    name used for SQL text in one function and for something else in another is checked both ways)."""
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name):
            # q += x is q = q + x: the text goes on from what q held before
            targets = [node.target]
            value = ast.copy_location(ast.BinOp(ast.Name(node.target.id, ast.Load()), ast.Add(), node.value), node)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(value)
    return found


def scan_source(text: str, path: str) -> list[Finding]:
    """Each place in ``text`` where a statement passed to a sink is made by filling values into SQL text."""
    tree = ast.parse(text, filename=path)
    assigned = _assignments(tree)
    findings = set()
    for call in ast.walk(tree):
        argument = _sql_argument(call) if isinstance(call, ast.Call) else None
        if argument is None:
            continue
        for variant in _variants(argument, assigned, frozenset()):
            if not SQL_WORD.search(" ".join(_text(piece, assigned, frozenset()) for piece in variant)):
                continue
            for piece in variant:
                if _template(piece) is not None:
                    findings.add(Finding(path, piece.lineno, _HOW[type(piece)]))
    return sorted(findings)


def python_files(root: Path, folders: Iterable[str] = SCANNED) -> list[Path]:
    return sorted(p for folder in folders for p in (root / folder).rglob("*.py") if ".venv" not in p.parts)


def scan(root: Path, folders: Iterable[str] = SCANNED) -> list[Finding]:
    found: list[Finding] = []
    for path in python_files(root, folders):
        found.extend(scan_source(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix()))
    return found


def _allowed(path: str) -> bool:
    return path in ALLOWED


# --- the project --------------------------------------------------------------------------------------------

def test_no_formatted_sql_outside_the_files_being_reworked():
    found = [str(f) for f in scan(ROOT) if not _allowed(f.path)]
    assert not found, ("SQL text built from values; use a named file (harmmap/db/queries/*.sql, db.query) or "
                       "sql.SQL(...).format(sql.Identifier(...)) with values as %(name)s parameters:\n"
                       + "\n".join(found))


def test_the_scan_reads_the_whole_code_base():
    scanned = {p.relative_to(ROOT).as_posix() for p in python_files(ROOT)}
    assert {"harmmap/accounts.py", "harmmap/db/__init__.py", "web/auth.py", "web/health.py"} <= scanned
    assert {p.split("/")[0] for p in scanned} == set(SCANNED)
    assert len(scanned) > 40


def test_the_allow_list_is_not_stale():
    """An entry whose files no longer build SQL text from values goes, so the list only shrinks."""
    stale = sorted(ALLOWED - {f.path for f in scan(ROOT)})
    assert not stale, f"nothing left to rework in {', '.join(stale)}: remove from ALLOWED in {Path(__file__).name}"


# --- the scanner itself -------------------------------------------------------------------------------------

PLANTED = '''\
from psycopg import sql

TABLE = "harm.ward_index"
COLUMNS = "ward_code, score"


def direct(conn, table):
    return conn.execute(f"SELECT * FROM {table}")


def through_a_name(conn, ward):
    statement = f"""SELECT {COLUMNS}
                    FROM harm.ward_index WHERE ward_code = '{ward}'"""
    return conn.execute(statement)


def percent(cur, table):
    cur.executemany("DELETE FROM %s WHERE ward_code = %%s" % table, [("E05000001",)])


def dot_format(conn, table):
    with conn.cursor().copy("COPY {} FROM STDIN".format(table)) as copy:
        copy.write(b"")


def into_a_composition(conn, table):
    conn.execute(sql.SQL(f"VACUUM (ANALYZE) {table}"))


def concatenated(conn, order):
    conn.execute("SELECT ward_code FROM geo.ward" + f" ORDER BY {order}")


def built_up(conn, borough, limit):
    query = "SELECT ward_code FROM geo.ward"
    if borough:
        query += f" WHERE borough_code = '{borough}'"
    conn.execute(query + " LIMIT %s" % limit if limit else query)
'''

CLEAN = '''\
import logging

from psycopg import sql

from harmmap import db


def composed(conn, table, columns):
    conn.execute(sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))))


def named_file(conn, ward):
    return conn.execute(db.query("map_ward"), {"ward": ward})


def bound_values(conn, ward):
    return conn.execute("SELECT ward_name FROM geo.ward WHERE ward_code = %s", (ward,))


def messages(conn, ward):
    logging.getLogger(__name__).info(f"SELECT for {ward} took long")   # a log line, not SQL
    message = f"no ward {ward}: select another one"                      # prose, not SQL
    raise ValueError(message)


def a_name_reused(conn, n):
    text = f"UPDATE the {n} wards"                                          # never executed
    return text
'''


def test_planted_formatted_sql_is_found_with_its_line(tmp_path):
    (tmp_path / "harmmap").mkdir()
    (tmp_path / "harmmap" / "planted.py").write_text(PLANTED, encoding="utf-8")
    found = [str(f) for f in scan(tmp_path, ["harmmap"])]
    assert found == [
        "harmmap/planted.py:8: SQL text built with an f-string",
        "harmmap/planted.py:12: SQL text built with an f-string",
        "harmmap/planted.py:18: SQL text built with %",
        "harmmap/planted.py:22: SQL text built with .format",
        "harmmap/planted.py:27: SQL text built with an f-string",
        "harmmap/planted.py:31: SQL text built with an f-string",
        "harmmap/planted.py:37: SQL text built with an f-string",
        "harmmap/planted.py:38: SQL text built with %",
    ]


def test_compositions_named_files_bound_values_and_prose_are_not_flagged(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "clean.py").write_text(CLEAN, encoding="utf-8")
    assert python_files(tmp_path, ["web"]) == [tmp_path / "web" / "clean.py"]
    assert scan(tmp_path, ["web"]) == []

