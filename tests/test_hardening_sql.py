"""SQL only through bound parameters: no string-built SQL reaches execute() or text() anywhere in src/carelm.

The check reads the source with ``ast``: a call to ``execute``, ``executemany``, ``executescript``,
``exec_driver_sql`` or ``text`` whose statement argument is an f-string with placeholders, a
``.format()`` call, a ``%`` formatting or a concatenation with a non-constant part, directly or through
a local variable assigned such a string, is reported with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "carelm"
SQL_SINKS = {"execute", "executemany", "executescript", "exec_driver_sql", "text"}


def _is_built(node: ast.AST, built_names: set[str]) -> bool:
    """Whether ``node`` is a string assembled at run time from non-constant parts."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # printf-style formatting
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        sides = (node.left, node.right)
        stringy = any(isinstance(s, ast.Constant) and isinstance(s.value, str) or _is_built(s, built_names)
                      for s in sides)
        dynamic = any(not isinstance(s, ast.Constant) for s in sides)
        return stringy and dynamic
    if isinstance(node, ast.Name):
        return node.id in built_names
    return False


def _sink_name(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name if name in SQL_SINKS else None


def _scopes(tree: ast.Module):
    yield tree
    yield from (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def _own_nodes(scope: ast.AST):
    """The nodes of a module or function, not descending into nested functions (they are scopes of their own)."""
    for child in ast.iter_child_nodes(scope):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield child
        yield from _own_nodes(child)


def find_string_built_sql(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: call(...)`` for every SQL sink given a string built at run time."""
    findings = []
    for scope in _scopes(ast.parse(source, filename)):
        nodes = list(_own_nodes(scope))
        built: set[str] = set()
        for node in nodes:  # names assigned a built string anywhere in this scope
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if _is_built(node.value, built):
                    built |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                if _is_built(node.value, built) or isinstance(node.value, ast.Name) and node.value.id in built:
                    built.add(node.target.id)
        for node in nodes:
            if isinstance(node, ast.Call) and (name := _sink_name(node)) and node.args:
                if _is_built(node.args[0], built):
                    findings.append(f"{filename}:{node.lineno}: {name}(...) is given a string-built statement")
    return findings


BAD = [
    'conn.execute(f"SELECT * FROM notes WHERE id = \'{note_id}\'")',
    'session.execute(text("DELETE FROM notes WHERE id = " + note_id))',
    'cursor.execute("SELECT * FROM t WHERE a = %s" % value)',
    'cursor.execute("SELECT * FROM t WHERE a = {}".format(value))',
    'cursor.execute(QUERY % (value,))',
    'def f(conn, table):\n    sql = f"DROP TABLE {table}"\n    conn.execute(sql)',
    'def f(conn, v):\n    sql = "SELECT 1"\n    sql += " WHERE a = " + v\n    conn.exec_driver_sql(sql)',
    'op.execute(sa.text(f"UPDATE notes SET status = \'{status}\'"))',
]
GOOD = [
    'session.execute(text("SELECT * FROM notes WHERE id = :id"), {"id": note_id})',
    'cursor.execute("PRAGMA foreign_keys=ON")',
    'session.execute(select(NoteRow).where(NoteRow.id == note_id))',
    'conn.execute(f"SELECT 1")',  # an f-string without placeholders is a constant
    'path.write_text(f"{header}\\n")',  # not an SQL call
    'def f(conn):\n    sql = "SELECT * FROM t WHERE a = :a"\n    conn.execute(text(sql), {"a": 1})',
]


@pytest.mark.parametrize("source", BAD)
def test_the_check_finds_string_built_sql(source):
    assert find_string_built_sql(source), source


@pytest.mark.parametrize("source", GOOD)
def test_the_check_accepts_bound_parameters(source):
    assert find_string_built_sql(source) == []


def test_no_string_built_sql_in_the_source_tree():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50 and any(f.parent.name == "store" for f in files)
    findings = [hit for f in files for hit in find_string_built_sql(f.read_text(encoding="utf-8"),
                                                                     str(f.relative_to(SRC.parents[1])))]
    assert findings == [], "SQL built from strings; use bound parameters:\n" + "\n".join(findings)
