"""The functions ad-hoc SQL may call, per dialect: an allow list, never a deny list.

Each name is the function as the database runs it, after the guard has regenerated the
statement for the dialect (so `ucase` arrives as `upper`, T-SQL `len` stays `len`). Only
functions that compute a value from their arguments (aggregates, string, date, math, casts,
window functions, the engine's pure built-ins) and table functions that only turn their
arguments into rows are here: nothing that reads files, talks to other servers or sessions,
takes locks, waits, or changes state (sequences, settings, statistics, replication slots).
The `query_allowed_functions` setting adds names an install trusts (its own functions).
FunctionCalls finds what a parsed query calls and refuses anything off the list.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.parser import Parser
from sqlglot.tokens import Token, TokenType

from .policy import DIALECTS, RefusedQuery


def _names(*groups: str) -> frozenset[str]:
    return frozenset(name for group in groups for name in group.split())


# In every dialect: standard SQL written with a function's syntax (CAST, CASE, EXISTS …) and the
# aggregates and window functions every engine has.
_STANDARD = """
    cast case exists extract coalesce nullif
    count sum avg min max
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
    current_date current_time current_timestamp
"""

SQLITE = _names(
    _STANDARD,
    # core scalar functions
    """abs char concat concat_ws format glob hex ifnull iif instr length like likelihood likely
    lower ltrim octet_length printf quote random randomblob replace round rtrim sign substr
    substring trim typeof unhex unicode unlikely upper zeroblob""",
    # aggregates
    "group_concat string_agg total",
    # date and time
    "date time datetime julianday unixepoch strftime timediff",
    # math
    """acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10
    log2 mod pi pow power radians sin sinh sqrt tan tanh trunc""",
    # JSON (text in, text out) and its table functions
    """json json_array json_array_length json_extract json_insert json_object json_patch
    json_remove json_replace json_set json_type json_valid json_quote json_group_array
    json_group_object json_each json_tree""",
)

POSTGRES = _names(
    _STANDARD,
    # aggregates and statistics
    """array_agg string_agg bool_and bool_or every bit_and bit_or json_agg jsonb_agg
    json_object_agg jsonb_object_agg stddev stddev_pop stddev_samp variance var_pop var_samp
    corr covar_pop covar_samp regr_slope regr_intercept regr_count regr_r2 mode
    percentile_cont percentile_disc""",
    # string
    """ascii bit_length btrim char_length character_length chr concat concat_ws format initcap
    left length lower lpad ltrim md5 octet_length overlay position quote_ident quote_literal
    quote_nullable regexp_count regexp_instr regexp_like regexp_match regexp_matches
    regexp_replace regexp_split_to_array regexp_split_to_table regexp_substr repeat replace
    reverse right rpad rtrim split_part starts_with strpos substr substring translate trim
    upper to_char encode decode sha224 sha256 sha384 sha512 string_to_array
    array_to_string unistr""",
    # date and time
    """age clock_timestamp date_bin date_part date_trunc isfinite justify_days justify_hours
    justify_interval localtime localtimestamp make_date make_interval make_time make_timestamp
    make_timestamptz now statement_timestamp timeofday transaction_timestamp to_date
    to_timestamp timezone""",
    # math
    """abs acos asin atan atan2 cbrt ceil ceiling cos cot degrees div exp factorial floor gcd lcm
    ln log log10 mod pi power radians random round scale sign sin sqrt tan trunc width_bucket
    to_number greatest least""",
    # arrays, rows, JSON, ranges
    """array row array_length array_lower array_upper array_position array_positions array_remove
    array_replace array_append array_prepend array_cat array_dims array_ndims cardinality
    unnest json_build_array json_build_object jsonb_build_array jsonb_build_object
    json_array_length jsonb_array_length json_extract_path json_extract_path_text
    jsonb_extract_path jsonb_extract_path_text json_typeof jsonb_typeof to_json to_jsonb
    row_to_json array_to_json jsonb_pretty jsonb_set jsonb_insert json_each json_each_text
    jsonb_each jsonb_each_text json_array_elements json_array_elements_text
    jsonb_array_elements jsonb_array_elements_text json_object_keys jsonb_object_keys
    lower_inf upper_inf isempty""",
    # operators sqlglot reads as functions (@>, <@, &&, ->, ->>, #>, #>>, ~, ~*)
    """array_contains_all array_contained_by array_overlaps json_extract json_extract_scalar
    jsonb_extract jsonb_extract_scalar regexp_like regexp_i_like""",
    # table functions that only make rows from their arguments
    "generate_series generate_subscripts",
)

MYSQL = _names(
    _STANDARD,
    # aggregates
    """group_concat bit_and bit_or bit_xor std stddev stddev_pop stddev_samp variance var_pop
    var_samp json_arrayagg json_objectagg""",
    # string
    """ascii bin bit_length char char_length character_length concat concat_ws elt export_set
    field find_in_set format from_base64 hex insert instr lcase left length locate lower lpad
    ltrim make_set mid oct octet_length ord position quote regexp_instr regexp_like
    regexp_replace regexp_substr repeat replace reverse right rpad rtrim soundex space strcmp
    substr substring substring_index to_base64 trim ucase unhex upper md5 sha sha1 sha2 crc32
    natural_sort_key match""",
    # date and time
    """if adddate addtime convert_tz curdate curtime current_date current_time date date_add
    date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear from_days
    from_unixtime get_format hour last_day localtime localtimestamp makedate maketime
    microsecond minute month monthname now period_add period_diff quarter sec_to_time second
    str_to_date subdate subtime sysdate time time_format time_to_sec timediff timestamp
    timestampadd timestampdiff to_days to_seconds unix_timestamp utc_date utc_time
    utc_timestamp week weekday weekofyear year yearweek""",
    # math and comparison
    """abs acos asin atan atan2 ceil ceiling conv cos cot crc32 degrees exp floor ln log log10
    log2 mod pi pow power radians rand round sign sin sqrt tan truncate greatest least
    interval isnull ifnull nvl""",
    # JSON (text in, text out) and its table function
    """json_array json_array_append json_array_insert json_contains json_contains_path
    json_depth json_extract json_insert json_keys json_length json_merge json_merge_patch
    json_merge_preserve json_object json_overlaps json_quote json_remove json_replace
    json_search json_set json_type json_unquote json_valid json_value json_table
    json_extract_scalar""",
)

TSQL = _names(
    _STANDARD,
    # aggregates and statistics
    """count_big string_agg stdev stdevp var varp grouping grouping_id checksum_agg
    percentile_cont percentile_disc""",
    # conversion and logic
    "convert try_cast try_convert parse try_parse isnull iif choose isnumeric isdate isjson",
    # string
    """ascii char charindex concat concat_ws datalength difference format left len lower ltrim
    nchar patindex quotename replace replicate reverse right rtrim soundex space str
    string_escape stuff substring translate trim unicode upper""",
    # date and time
    """current_timezone dateadd datediff datediff_big datefromparts datename datepart
    datetime2fromparts datetimefromparts datetimeoffsetfromparts date_bucket datetrunc day
    eomonth getdate getutcdate month smalldatetimefromparts switchoffset sysdatetime
    sysdatetimeoffset sysutcdatetime timefromparts todatetimeoffset year""",
    # math
    """abs acos asin atan atn2 ceiling cos cot degrees exp floor log log10 pi power radians rand
    round sign sin sqrt square tan greatest least""",
    # JSON and the table functions that only make rows from their arguments
    "json_value json_query json_modify json_object json_array openjson string_split generate_series",
)

ALLOWED: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {"sqlite": SQLITE, "postgres": POSTGRES, "mysql": MYSQL, "tsql": TSQL}
)


def allowed_functions(dialect: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The functions `dialect` (a sqlglot dialect name) may call, with the install's `extra`
    names: `name` for every dialect, `dialect:name` for one (mssql, postgresql, mysql, sqlite)."""
    names = set(ALLOWED[dialect])
    for entry in extra:
        where, _, name = entry.strip().lower().rpartition(":")
        if not where or DIALECTS.get(where) == dialect:
            names.add(name)
    return frozenset(names)


# arguments written as they are when a node is written alone: small, and some generators need them
_SMALL = (exp.Literal, exp.DataType, exp.Var, exp.Identifier, exp.Column, exp.Null, exp.Boolean, exp.Star)


def _is_call(node: exp.Func) -> bool:
    """Whether a function node calls something: AND, OR, XOR and COLLATE do not, nor do a
    CASE's WHEN branches (If nodes)."""
    if isinstance(node, (exp.Connector, exp.Collate)):
        return False
    return not (isinstance(node, exp.If) and isinstance(node.parent, exp.Case))


class FunctionCalls:
    """Checks every function a query calls against the allow list, as the database will run
    it: the calls the regenerated statement writes for each function node (``ucase`` is
    written ``UPPER``; a node may be written as two calls, or as none at all)."""

    def __init__(self, read: str, allowed: frozenset[str]) -> None:
        self.read = read
        self.allowed = allowed
        self._written: dict[int, str] = {}  # id(node) -> its SQL, each node written once

    def check(self, node: exp.Func) -> None:
        """Refuse the node when it calls a function off the allow list."""
        if not _is_call(node):
            return
        for name in self.called(node):
            if name not in self.allowed:
                raise RefusedQuery(f"function {self._shown(name, node)} is not allowed: {self._why(name)}")

    def check_statement(self, statement: str, root: exp.Expr) -> None:
        """Second net, over the text that will run: every name written before "(" is a
        function on the allow list, or a name the query defines (a WITH query's or an alias's
        column list). Catches a node that is no function node yet is written as a call."""
        defined = {a.name.lower() for a in root.find_all(exp.TableAlias)}
        defined |= {c.alias.lower() for c in root.find_all(exp.CTE)}
        tokens = sqlglot.tokenize(statement, read=self.read)
        for i, token in enumerate(tokens[:-1]):
            if tokens[i + 1].token_type is not TokenType.L_PAREN:
                continue
            if token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
                continue
            name, j = token.text.lower(), i
            while j >= 2 and tokens[j - 1].token_type is TokenType.DOT:
                j -= 2
                name = f"{tokens[j].text.lower()}.{name}"
            if name not in self.allowed and name not in defined and name not in _STRUCTURE:
                raise RefusedQuery(f"function {name} is not allowed: {self._why(name)}")

    def called(self, node: exp.Func) -> list[str]:
        """What the node calls: its own calls, not its arguments' (they are nodes of their own);
        sqlglot's name for a construct written without a call (CASE, NEXT VALUE FOR, ``->``);
        nothing when it is written as its argument alone. Schema-qualified when qualified."""
        qualifier = _qualifier(node, self.read)
        if isinstance(node, exp.Anonymous) or qualifier:
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            return [f"{qualifier}{name.lower()}"]
        own, bare = self._own_calls(node)
        if own:
            return sorted(own)
        if bare:
            return []
        return [node.sql_name().lower()]

    def _own_calls(self, node: exp.Func) -> tuple[set[str], bool]:
        """The calls the node itself writes, and whether it is written as its first argument
        alone. Written with its larger arguments as stand-in names, so checking a deeply
        nested query costs its size, not its size times its depth; written whole, its
        arguments' calls taken away, when the stand-ins confuse the generator."""
        stand_ins: list[exp.Expr] = []

        def stand_in(value: Any) -> Any:
            if not isinstance(value, exp.Expr):
                return value
            if isinstance(value, _SMALL):
                return value.copy()  # a copy: the node made below becomes its parent
            stand_ins.append(exp.column(f"bpo2_arg_{len(stand_ins)}"))
            return stand_ins[-1]

        args = {
            key: [stand_in(v) for v in value] if isinstance(value, list) else stand_in(value)
            for key, value in node.args.items()
        }
        shallow = type(node)(**args)
        try:
            written = self._write(shallow)
            first = shallow.this
            bare = isinstance(first, exp.Expr) and written == self._write(first)
            return _call_words(written, self.read), bare
        except RefusedQuery:
            pass
        written = self.written(node)
        own = _call_words(written, self.read)
        for child in node.iter_expressions():
            own -= _call_words(self.written(child), self.read)
        first = node.this
        return own, isinstance(first, exp.Expr) and written == self.written(first)

    def _write(self, node: exp.Expr) -> str:
        try:
            return node.sql(dialect=self.read, comments=False, unsupported_level=ErrorLevel.RAISE)
        except Exception:  # arguments the generator cannot write back: refuse, never guess
            raise RefusedQuery(f"{node.key.upper()} is used in a way the guard cannot verify") from None

    def written(self, node: exp.Expr) -> str:
        key = id(node)
        if key not in self._written:
            self._written[key] = self._write(node)
        return self._written[key]

    @staticmethod
    def _shown(name: str, node: exp.Func) -> str:
        # sqlglot's name for a construct without a call, as words: NEXT VALUE FOR
        return name.upper().replace("_", " ") if name == node.sql_name().lower() and "_" in name else name

    @staticmethod
    def _why(name: str) -> str:
        if "." in name:
            return (
                "only the built-in functions on the allow list may be called, unqualified "
                "(setting query_allowed_functions)"
            )
        return "it is not on the allow list of read-only functions (setting query_allowed_functions)"


# words written before "(" that call nothing
_STRUCTURE = frozenset(
    {
        "in",
        "over",
        "as",
        "and",
        "or",
        "not",
        "then",
        "else",
        "when",
        "select",
        "from",
        "group",
        "columns",
        "against",
    }
)


def _call_words(sql: str, read: str) -> set[str]:
    """The words `sql` calls: each word right before "(", but for a data type with its size
    (CAST(x AS VARCHAR(MAX)), x::NUMERIC(10, 2), CONVERT(VARCHAR(10), x))."""
    tokens = sqlglot.tokenize(sql, read=read)
    words = set()
    for i, (a, b) in enumerate(itertools.pairwise(tokens)):
        if b.token_type is not TokenType.L_PAREN or a.token_type in (TokenType.STRING, TokenType.IDENTIFIER):
            continue
        if a.token_type in Parser.TYPE_TOKENS and i > 0 and _is_type_position(tokens, i):
            continue
        if a.text.lower() not in _STRUCTURE:
            words.add(a.text.lower())
    return words


def _is_type_position(tokens: list[Token], i: int) -> bool:
    before = tokens[i - 1]
    if before.token_type in (TokenType.ALIAS, TokenType.DCOLON):
        return True
    return before.token_type is TokenType.L_PAREN and i > 1 and tokens[i - 2].text.lower() in _CONVERTS


_CONVERTS = frozenset({"convert", "try_convert"})  # T-SQL: the data type comes first


def _qualifier(node: exp.Func, read: str) -> str:
    """`schema.` when the query names the function with its schema, else empty."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and node.arg_key == "expression":
        return f"{parent.this.sql(dialect=read).lower()}."
    if isinstance(parent, exp.Table) and node.arg_key == "this" and parent.args.get("db"):
        parts = (parent.args.get("catalog"), parent.args.get("db"))
        return ".".join(p.name.lower() for p in parts if p) + "."
    return ""
