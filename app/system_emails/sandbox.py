"""The bounded Jinja2 sandbox of system e-mails: text size, loops, recursion and time are capped."""
from functools import wraps

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import TemplateSyntaxError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .budget import (
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_SOURCE,
    MAX_TEXT,
    Budget,
    REFUSED_METHODS,
    LimitExceeded,
    bounded_list,
    bounded_loop,
    budget,
    check_numbers,
    format_size,
    joined_size,
    percent_size,
    replace_size,
    text_size,
    use_budget,
)
from .filter_guards import guarded_filter

ITER_FILTER = "herald_bounded_loop"


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with ``~`` going through ``environment.bounded_concat``."""

    def visit_Concat(self, node, frame):
        """``a ~ b``: sizes checked before the join."""
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"environment.bounded_concat({join}, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every bound of ``budget.Budget`` enforced.

    Each string, list or output a template builds holds at most ``MAX_TEXT`` characters,
    checked *before* an operation that could make a larger one (``*``, ``+``, ``~``, ``%``,
    ``str.format``, padding, ``replace``, ``join``, filters), all of them together at most
    ``MAX_BUILT``; loop iterations and calls number at most ``MAX_STEPS``; calls nest at most
    ``MAX_DEPTH`` deep (a macro calling itself); a render stops after ``MAX_SECONDS``, checked at
    every step. Filters that run Python code per item count each item they read as a step
    (``ITEM_FILTERS``), those that do per character take at most ``FILTER_TEXT`` characters, so
    one operation between two checks stays a small part of the time. Going past a bound raises
    ``LimitExceeded`` (a SecurityError) whose message names the limit; a filter given a value or
    argument it cannot take raises ``FilterFailed``, naming the filter.
    """

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options):
        super().__init__(optimized=False, finalize=self._finalize, **options)
        self.globals.clear()
        self.concat = self._bounded_join
        self.filters = {name: guarded_filter(name, func) for name, func in self.filters.items()}
        self.filters[ITER_FILTER] = bounded_loop

    def _parse(self, source, name, filename):
        if len(source) > MAX_SOURCE:
            raise TemplateSyntaxError(f"the template is longer than {MAX_SOURCE:,} characters", 1)
        try:
            tree = super()._parse(source, name, filename)
        except RecursionError:
            raise TemplateSyntaxError("the template is nested too deeply", 1) from None
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, ITER_FILTER, [], [], None, None, lineno=loop.lineno)
        tree.set_environment(self)
        return tree

    @staticmethod
    def _finalize(value):
        Budget.fits(text_size(value))
        return value

    @staticmethod
    def _bounded_join(pieces) -> str:
        spend, parts, size = budget(), [], 0
        for piece in pieces:
            size += text_size(piece)
            if size > MAX_TEXT:
                spend.build(size)
            parts.append(piece)
        spend.build(size)
        return "".join(parts)

    def bounded_concat(self, join, items):
        """``a ~ b ~ ...``: refused before joining when the result would pass MAX_TEXT."""
        budget().build(joined_size(items))
        return join(items)

    def getattr(self, obj, attribute):
        """Attribute access, with the deadline checked."""
        budget().check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        """Item access, with the deadline checked."""
        budget().check_time()
        return super().getitem(obj, argument)

    def call_binop(self, context, operator, left, right):
        """``*``, ``+``, ``%`` and ``**`` refused before they would build too much."""
        budget().tick()
        if operator == "**" and isinstance(right, (int, float)) and (
                abs(right) > 100 or (isinstance(left, int) and left.bit_length() * abs(right) > MAX_INT_BITS)):
            raise LimitExceeded("the power is too large")
        sized = (str, list, tuple)
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int) and not isinstance(left, sized):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise LimitExceeded("the product is too large")
            elif isinstance(left, sized) and isinstance(right, int):
                budget().build(text_size(left) * max(right, 0))
            elif isinstance(right, sized) and isinstance(left, int):
                budget().build(text_size(right) * max(left, 0))
        elif operator == "+" and isinstance(left, sized) and isinstance(right, sized):
            budget().build(text_size(left) + text_size(right))
        elif operator == "%" and isinstance(left, str):
            budget().build(percent_size(left, right))
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value):
        """``str.format``/``format_map`` (Jinja's sandboxed wrapper), refused first when the
        result could pass MAX_TEXT."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        template = value.__self__

        @wraps(wrapper)
        def checked(*args, **kwargs):
            budget().build(format_size(template, args, kwargs))
            return wrapper(*args, **kwargs)
        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        """Every call: a step, a nesting level, number arguments capped, string methods that
        could build too much checked first, and the result's size accounted."""
        spend = budget()
        spend.tick()
        name = getattr(__obj, "__name__", "")
        target = getattr(__obj, "__self__", None)
        if target is not None:
            check_numbers(args, kwargs)
        if isinstance(target, str):
            if name in REFUSED_METHODS:
                raise LimitExceeded(f"str.{name} is not available in e-mails")
            if name == "expandtabs":
                spend.build(len(target) + target.count("\t") * int((args or [8])[0]))
            elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
                spend.build(replace_size(target, *args[:3]))
            elif name == "join" and args:
                args = (bounded_list(args[0], "a join"), *args[1:])
                spend.build(joined_size(args[0], target))
        if isinstance(__obj, LoopContext) and args:
            args = (bounded_loop(args[0]), *args[1:])
        spend.depth += 1
        try:
            if spend.depth > MAX_DEPTH:
                raise LimitExceeded(f"calls (macros, loops) nest more than {MAX_DEPTH} deep")
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            spend.depth -= 1
        spend.build(text_size(result))
        return result


def bounded_render(template, values: dict) -> str:
    """Render a template of a ``BoundedSandbox`` with ``values`` under a fresh Budget."""
    with use_budget(Budget()):
        return template.render(values)
