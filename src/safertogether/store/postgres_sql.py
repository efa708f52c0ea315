"""Our SQL, written in DuckDB's dialect, as PostgreSQL runs it: sqlglot's translation plus what it lacks.

sqlglot translates most of it (types, ``strftime``, list functions, ``ANTI JOIN``); the rest is here, as
rewrites of the parsed statement, so that no caller branches on the engine:

* ``?`` placeholders (also ``?::TYPE``, which sqlglot's DuckDB tokenizer reads as one token) become
  numbered ones, bound by name, so a rewrite may move them;
* ``INSERT OR REPLACE`` becomes ``INSERT ... ON CONFLICT (primary key) DO UPDATE`` (the key is read
  from the catalog, through ``catalog``);
* a select's alias named in its HAVING is replaced by its expression; ``unnest`` of a bound list is typed text[];
* ``CREATE OR REPLACE TABLE`` drops the table first; a subquery in FROM gets the alias PostgreSQL 15 needs;
* ``GROUP BY ALL`` lists the select's non-aggregate expressions by position, ``ORDER BY ALL`` all of them;
* ``contains(text, part)`` is ``strpos(...) > 0``; ``any_value`` (PostgreSQL 16) is ``min``; ``mode(x)``
  an ordered-set aggregate; ``first(x ORDER BY ...)`` the first of an ordered ``array_agg``;
* ``regexp_extract(s, pattern, group)`` is ``(regexp_match(s, pattern))[group]``; ``text[n:]`` is ``substr``;
  ``to_microseconds(n)`` an interval; ``len`` of a list column ``cardinality``; an empty list ``[]`` the
  literal ``'{}'`` (typed by where it goes); ``unnest(range(...))`` of times a ``generate_series`` that
  stops before its end;
* ``duckdb_tables()`` is ``information_schema.tables``;
* a struct (``{'k': v}``, ``struct_pack``) is ``json_build_object`` (keys kept in order), ``struct_insert``
  a ``jsonb`` concatenation, and ``to_json`` of either its text, as DuckDB's JSON arrives in Python as text;
* ``sha256(text)`` hashes the text's UTF-8 bytes and gives lowercase hex, as DuckDB's;
* ``strftime`` is ``to_char`` with the format's literal text quoted;
* ``('0x' || hex)::BIGINT`` goes through ``BIT(64)`` (PostgreSQL 15 reads no hex integers);
* a bare placeholder tested ``IS NULL`` is typed text (PostgreSQL cannot infer the type of ``$1 IS NULL``);
* columns named as PostgreSQL's system columns (``xmin``, ``xmax``) are stored under other names;
* ``%`` (in string literals and the modulo operator) is escaped, since psycopg reads ``%`` as a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

#: Column names PostgreSQL keeps for its system columns, and the names stored instead; a query selecting
#: one by name still answers under the name it asked for.
SYSTEM_COLUMNS: Final = {"xmin": "xmin_", "xmax": "xmax_", "cmin": "cmin_", "cmax": "cmax_", "ctid": "ctid_"}

#: Columns that hold lists (``VARCHAR[]``): DuckDB's ``len`` of one is PostgreSQL's ``cardinality``.
LIST_COLUMNS: Final = frozenset({"partitions"})

#: Given a table, its columns in order and its primary key columns.
Catalog = Callable[[str], tuple[list[str], list[str]]]


def numbered_placeholders(sql: str) -> str:
    """``?`` placeholders as ``$1``, ``$2``, ... in order (string literals and comments left alone)."""
    tokens = sqlglot.tokenize(sql, read="duckdb")
    out, last, number = [], 0, 0
    for token in tokens:
        if token.token_type in (TokenType.PLACEHOLDER, TokenType.QDCOLON) and sql[token.start] == "?":
            number += 1
            out.append(sql[last:token.start] + f"${number}")
            last = token.start + 1
    return "".join(out) + sql[last:]


def named_params(params: dict[str, Any] | Sequence[Any] | None) -> dict[str, Any]:
    """Positional parameters as the names :func:`numbered_placeholders` gave their places."""
    if params is None:
        return {}
    if isinstance(params, dict):
        return params
    return {str(i): value for i, value in enumerate(params, start=1)}


def to_postgres(sql: str, catalog: Catalog) -> list[str]:
    """The statements of ``sql`` (DuckDB's dialect) in PostgreSQL's, placeholders as ``%(n)s``."""
    out = []
    for statement in sqlglot.parse(numbered_placeholders(sql), read="duckdb"):
        if statement is None:
            continue
        if isinstance(statement, exp.Create) and statement.args.get("replace") and statement.kind == "TABLE":
            # PostgreSQL has no CREATE OR REPLACE TABLE: drop it first (inside the caller's transaction).
            statement.set("replace", False)
            out.append(f"DROP TABLE IF EXISTS {statement.this.sql(dialect='postgres')}")
        out.append(_escape_percent(_rewrite(statement, catalog).sql(dialect="postgres")))
    return out


def _escape_percent(sql: str) -> str:
    """``%`` inside string literals doubled (after translation: ``strftime``'s formats are rewritten)."""
    if "%" not in sql:
        return sql
    out, last = [], 0
    for token in sqlglot.tokenize(sql, read="postgres"):
        if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING) and "%" in sql[token.start:token.end + 1]:
            out.append(sql[last:token.start] + sql[token.start:token.end + 1].replace("%", "%%"))
            last = token.end + 1
    return "".join(out) + sql[last:]


def _rewrite(tree: exp.Expression, catalog: Catalog) -> exp.Expression:
    if isinstance(tree, exp.Insert) and tree.args.get("alternative") == "REPLACE":
        tree = _insert_or_replace(tree, catalog)
    for group in list(tree.find_all(exp.Group)):
        if group.args.get("all"):
            _group_by_all(group)
    for select in list(tree.find_all(exp.Select)):
        if select.args.get("having"):
            _aliases_in_having(select, catalog)
    for order in list(tree.find_all(exp.Order)):
        _order_by_all(order)
    for number, subquery in enumerate(tree.find_all(exp.Subquery)):
        if not subquery.alias and isinstance(subquery.parent, exp.From | exp.Join):
            subquery.set("alias", exp.TableAlias(this=exp.to_identifier(f"_subquery_{number}")))
    for select in tree.find_all(exp.Select):
        select.set("expressions", [_keep_name(e) for e in select.expressions])
    return tree.transform(_translate)


def _translate(node: exp.Expression) -> exp.Expression:
    """:func:`_node`, then the same for the children of what it put in node's place.

    sqlglot's ``transform`` does not descend into a replacement, so without this an ``any_value(s.xmin)``
    would become ``min(s.xmin)`` with the system column left under its own name.
    """
    new = _node(node)
    if new is not node:
        for child in list(new.iter_expressions()):
            child.replace(child.transform(_translate))
    return new


def _keep_name(projection: exp.Expression) -> exp.Expression:
    if isinstance(projection, exp.Column) and projection.name in SYSTEM_COLUMNS:
        return exp.alias_(projection, projection.name)
    return projection


def _node(node: exp.Expression) -> exp.Expression:
    if (isinstance(node, exp.Identifier) and node.this in SYSTEM_COLUMNS and not isinstance(node.parent, exp.TableAlias)
            and not (isinstance(node.parent, exp.Alias) and node.arg_key == "alias")):
        return exp.to_identifier(SYSTEM_COLUMNS[node.this])
    if isinstance(node, exp.First | exp.ArgMax | exp.ArgMin) and isinstance(node.this, exp.Order):
        # first(x ORDER BY ...): PostgreSQL has no first(); the first of an ordered array_agg is the same.
        return exp.Bracket(this=exp.Paren(this=exp.ArrayAgg(this=node.this)), expressions=[exp.Literal.number(0)])
    if isinstance(node, exp.Mode) and node.this is not None and not isinstance(node.parent, exp.WithinGroup):
        return exp.WithinGroup(this=exp.Mode(), expression=exp.Order(expressions=[exp.Ordered(this=node.this)]))
    if (isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous)
            and str(node.this.this).lower() == "duckdb_tables"):
        # DuckDB's catalog of tables: PostgreSQL's has the same table_name column.
        return exp.Table(this=exp.to_identifier("tables"), db=exp.to_identifier("information_schema"),
                         alias=node.args.get("alias"))
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_json":
        # A replaced node's children are not visited by transform(): translate them here.
        return exp.Cast(this=node.expressions[0], to=exp.DataType.build("TEXT"))
    if isinstance(node, exp.Struct):
        return _json_object(node.expressions)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "struct_insert":
        base, *added = node.expressions
        merged = exp.DPipe(this=exp.Cast(this=base, to=exp.DataType.build("JSONB")),
                           expression=exp.Cast(this=_json_object(added), to=exp.DataType.build("JSONB")))
        return exp.Cast(this=exp.Paren(this=merged), to=exp.DataType.build("JSON"))
    if isinstance(node, exp.Is) and isinstance(node.this, exp.Placeholder | exp.Parameter):
        return exp.Is(this=exp.Cast(this=node.this, to=exp.DataType.build("TEXT")), expression=node.expression)
    if isinstance(node, exp.SHA2) and node.text("length") in ("", "256"):
        # DuckDB's sha256 of text is lowercase hex; PostgreSQL's takes bytes and gives bytes.
        text = node.this
        digest = exp.Anonymous(this="sha256", expressions=[
            exp.Anonymous(this="convert_to", expressions=[text, exp.Literal.string("UTF8")])])
        return exp.Anonymous(this="encode", expressions=[digest, exp.Literal.string("hex")])
    if isinstance(node, exp.Cast) and node.to.is_type("bigint") and _hex_digits(node.this) is not None:
        # ('0x' || hex)::BIGINT reads hex in DuckDB and PostgreSQL 16, not 15: through a 64-bit string instead.
        padded = exp.Anonymous(this="lpad", expressions=[_hex_digits(node.this), exp.Literal.number(16),
                                                           exp.Literal.string("0")])
        bits = exp.Cast(this=exp.DPipe(this=exp.Literal.string("x"), expression=padded, safe=False),
                        to=exp.DataType.build("BIT(64)", dialect="postgres"))
        return exp.Cast(this=bits, to=exp.DataType.build("BIGINT"))
    if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
        return exp.Anonymous(this="to_char", expressions=[node.this, exp.Literal.string(
            _to_char_format(node.args["format"].this))])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "printf":
        return _printf(node.expressions[0], node.expressions[1:])
    if (isinstance(node, exp.Round) and node.args.get("decimals") is not None
            and not (isinstance(node.this, exp.Cast) and node.this.to.is_type("decimal"))):
        # PostgreSQL rounds to decimals only a numeric; the answer stays a double, as DuckDB's.
        rounded = exp.Round(this=exp.Cast(this=node.this, to=exp.DataType.build("NUMERIC")),
                            decimals=node.args["decimals"])
        return exp.Cast(this=rounded, to=exp.DataType.build("DOUBLE PRECISION"))
    if (isinstance(node, exp.Select) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Tuple)
            and isinstance(node.parent, exp.Subquery) and isinstance(node.parent.parent, exp.In)):
        # (a, b) IN (SELECT (x, y) ...): PostgreSQL reads (x, y) as one column of row type; two columns are meant.
        node.set("expressions", list(node.expressions[0].expressions))
        return node
    if isinstance(node, exp.Contains):
        return exp.GT(this=exp.StrPosition(this=node.this, substr=node.expression), expression=exp.Literal.number(0))
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        # DuckDB's any_value skips NULLs (sqlglot reads it so); min() does too, and takes no IGNORE NULLS.
        return exp.Min(this=node.this.this)
    if isinstance(node, exp.AnyValue):
        return exp.Min(this=node.this)  # any_value() arrived in PostgreSQL 16; min() is one of the values
    if isinstance(node, exp.Array) and not node.expressions:
        return exp.Literal.string("{}")  # an empty list: a literal takes the type of where it goes
    if isinstance(node, exp.Mod):
        return exp.Anonymous(this="mod", expressions=[node.this, node.expression])
    if isinstance(node, exp.Length) and isinstance(node.this, exp.Column) and node.this.name in LIST_COLUMNS:
        return exp.Anonymous(this="cardinality", expressions=[node.this])
    if (isinstance(node, exp.Bracket) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice)
            and node.expressions[0].args.get("expression") is None):
        # text[n:] (what follows the nth character): DuckDB slices strings, PostgreSQL takes substr.
        return exp.Substring(this=node.this, start=node.expressions[0].this)
    if isinstance(node, exp.Explode) and isinstance(node.this, exp.Placeholder | exp.Parameter):
        # unnest of a bound list: psycopg sends a list of str untyped, and unnest(unknown) is ambiguous.
        return exp.Explode(this=exp.Cast(this=node.this, to=exp.DataType.build("TEXT[]", dialect="postgres")))
    if isinstance(node, exp.Explode) and isinstance(node.this, exp.GenerateSeries):
        return _node(node.this)  # a set-returning function already: unnest of it is DuckDB's list form
    if isinstance(node, exp.GenerateSeries) and node.args.get("is_end_exclusive") and isinstance(
            node.args.get("step"), exp.Interval):
        # DuckDB's range() stops before its end; sqlglot subtracts the integer 1, which a timestamp refuses.
        end = exp.Sub(this=node.args["end"], expression=exp.Interval(this=exp.Literal.string("1"),
                                                                     unit=exp.var("MICROSECOND")))
        return exp.GenerateSeries(start=node.args["start"], end=end, step=node.args["step"])
    if isinstance(node, exp.RegexpExtract):
        group = node.args.get("group")
        match = exp.Anonymous(this="regexp_match", expressions=[node.this, node.expression])
        index = int(group.this) if group is not None else 1
        # sqlglot counts from 0 and adds PostgreSQL's offset of 1.
        return exp.Bracket(this=exp.Paren(this=match), expressions=[exp.Literal.number(index - 1)])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_microseconds":
        micros = node.expressions[0]
        return exp.Mul(this=exp.Cast(this=exp.Literal.string("1 microsecond"), to=exp.DataType.build("interval")),
                       expression=micros)
    return node


def _hex_digits(value: exp.Expression) -> exp.Expression | None:
    """X of ``'0x' || X`` (in brackets or not), else None."""
    while isinstance(value, exp.Paren):
        value = value.this
    if (isinstance(value, exp.DPipe) and isinstance(value.this, exp.Literal) and value.this.is_string
            and value.this.this == "0x"):
        return value.expression
    return None


_STRFTIME_FIELDS: Final = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}


def _to_char_format(strftime_format: str) -> str:
    """A strftime format as to_char's, other text in double quotes (to_char reads e.g. the T of ``%dT`` as
    part of ``DDTH``, an ordinal suffix)."""
    out = []
    for part in re.split(r"(%[A-Za-z])", strftime_format):
        if part in _STRFTIME_FIELDS:
            out.append(_STRFTIME_FIELDS[part])
        elif part.startswith("%"):
            raise ValueError(f"strftime field {part} has no translation for PostgreSQL; add it to _STRFTIME_FIELDS")
        elif part:
            out.append('"' + part.replace('"', '\\"') + '"')
    return "".join(out)


_PRINTF_FIELD: Final = re.compile(r"%(?:\.(\d+)f|s)")


def _printf(pattern: exp.Expression, values: list[exp.Expression]) -> exp.Expression:
    """DuckDB's ``printf`` with ``%s`` and ``%.Nf`` fields as a concatenation (NULL in any field gives NULL)."""
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise ValueError("printf needs a literal format to be translated for PostgreSQL")
    parts: list[exp.Expression] = []
    text, last, fields = pattern.this, 0, iter(values)
    for field in _PRINTF_FIELD.finditer(text):
        if field.start() > last:
            parts.append(exp.Literal.string(text[last:field.start()]))
        value = next(fields)
        if field.group(1) is not None:
            value = exp.Round(this=exp.Cast(this=value, to=exp.DataType.build("NUMERIC")),
                              decimals=exp.Literal.number(int(field.group(1))))
        parts.append(exp.Cast(this=value, to=exp.DataType.build("TEXT")))
        last = field.end()
    if last < len(text):
        parts.append(exp.Literal.string(text[last:]))
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part, safe=False)
    return exp.Paren(this=joined)


def _json_object(fields: list[exp.Expression]) -> exp.Expression:
    """``json_build_object('k1', v1, ...)`` of a struct's ``k := v`` fields, in their order."""
    arguments: list[exp.Expression] = []
    for field in fields:
        if not isinstance(field, exp.PropertyEQ | exp.Alias):
            raise ValueError(f"a struct field without a name cannot become JSON: {field.sql('duckdb')}")
        name = field.this.name if isinstance(field, exp.PropertyEQ) else field.alias
        value = field.expression if isinstance(field, exp.PropertyEQ) else field.this
        arguments += [exp.Literal.string(name), value]
    return exp.Anonymous(this="json_build_object", expressions=arguments)


def _insert_or_replace(tree: exp.Insert, catalog: Catalog) -> exp.Insert:
    target = tree.this
    table = target.this if isinstance(target, exp.Schema) else target
    given = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else []
    columns, key = catalog(table.name)
    columns = given or columns
    updates = [exp.EQ(this=exp.column(c), expression=exp.column(c, table="excluded")) for c in columns if c not in key]
    tree.set("alternative", None)
    if not given:
        tree.set("this", exp.Schema(this=table, expressions=[exp.to_identifier(c) for c in columns]))
    tree.set("conflict", exp.OnConflict(conflict_keys=[exp.to_identifier(k) for k in key],
                                        action=exp.var("DO UPDATE"), expressions=updates) if key else
             exp.OnConflict(action=exp.var("DO NOTHING")))
    return tree


def _group_by_all(group: exp.Group) -> None:
    select = group.parent
    positions = [exp.Literal.number(i) for i, e in enumerate(select.expressions, start=1)
                 if not e.find(exp.AggFunc)]
    group.set("all", None)
    group.set("expressions", positions)


def _order_by_all(order: exp.Order) -> None:
    first = order.expressions[0] if len(order.expressions) == 1 else None
    if not (isinstance(first, exp.Ordered) and isinstance(first.this, exp.Var) and first.this.name.upper() == "ALL"):
        return
    select = order.parent
    order.set("expressions", [exp.Ordered(this=exp.Literal.number(i), desc=first.args.get("desc"),
                                          nulls_first=first.args.get("nulls_first"))
                              for i in range(1, len(select.expressions) + 1)])


def _aliases_in_having(select: exp.Select, catalog: Catalog) -> None:
    """A select's alias named in its HAVING is its expression there (PostgreSQL sees only input columns)."""
    aliases = {e.alias: e.this for e in select.expressions if isinstance(e, exp.Alias)}
    tables = [t.name for t in select.find_all(exp.Table) if t.parent_select is select]
    inputs = {column for table in tables for column in catalog(table)[0]}
    for column in list(select.args["having"].find_all(exp.Column)):
        if not column.table and column.name in aliases and column.name not in inputs:
            column.replace(aliases[column.name].copy())
