"""Render the Flink SQL files of dbt_like_sql/flink/ into statements, from configuration.

Values enter the SQL only through two filters: `literal` (a single-quoted SQL string, quotes
doubled) and `identifier` (back-quoted, back-quotes doubled), so no setting can change a
statement's shape. A value the template needs and was not given fails before anything is sent to
Flink, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import jinja2

FLINK_SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql" / "flink"


class FlinkSqlError(ValueError):
    """A Flink SQL file could not be rendered; the message names the file and what is missing."""


def literal(value: object) -> str:
    """`value` as a Flink SQL string literal."""
    if value is None:
        raise FlinkSqlError("a SQL literal cannot be None")
    return "'" + str(value).replace("'", "''") + "'"


def identifier(value: object) -> str:
    """`value` as a Flink SQL quoted identifier."""
    return "`" + str(value).replace("`", "``") + "`"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(FLINK_SQL_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["literal"] = literal
    env.filters["identifier"] = identifier
    return env


def split_statements(sql: str) -> list[str]:
    """Statements of a rendered file: split at `;` ending a line, outside string literals; a
    `EXECUTE STATEMENT SET BEGIN … END;` block stays one statement; `--` comment lines are dropped."""
    statements, current, in_set = [], [], False
    for line in sql.splitlines():
        if line.strip().startswith("--") or (not line.strip() and not current):
            continue
        current.append(line)
        if re.match(r"\s*EXECUTE\s+STATEMENT\s+SET\s+BEGIN\b", line, re.IGNORECASE):
            in_set = True
        if line.rstrip().endswith(";") and sum(part.count("'") for part in current) % 2 == 0:
            if in_set and not re.match(r"\s*END\s*;\s*$", line, re.IGNORECASE):
                continue
            statements.append("\n".join(current).strip().removesuffix(";").rstrip())
            current, in_set = [], False
    if "\n".join(current).strip():
        raise FlinkSqlError("the SQL does not end with ';':\n" + "\n".join(current))
    return statements


def render(name: str, values: Mapping[str, object]) -> list[str]:
    """The statements of dbt_like_sql/flink/<name>.sql rendered with `values`."""
    try:
        text = _environment().get_template(f"{name}.sql").render(**values)
    except jinja2.TemplateNotFound as exc:
        raise FlinkSqlError(f"no Flink SQL file {FLINK_SQL_DIR / exc.name}") from None
    except jinja2.UndefinedError as exc:
        missing = re.findall(r"'(\w+)' is undefined", str(exc))
        raise FlinkSqlError(
            f"{FLINK_SQL_DIR / (name + '.sql')}: setting {', '.join(missing) or exc} is missing; nothing was submitted"
        ) from None
    return split_statements(text)
