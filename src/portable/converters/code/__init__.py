"""Route 1, native code: the IR lowered once (``lower.py``), printed by one file per language.

::

    ir.Model --lower()--> Program --CPrinter / PythonPrinter / JavaPrinter / JsPrinter--> project

A :class:`~portable.converters.code.lower.Program` is language-neutral: a straight list of
preprocessing ops over numbered value slots, the estimator as flat per-tree node arrays (or
a coefficient matrix), the link, and golden rows with their expected outputs. Each printer
turns it into a small standalone project (model source, CLI stub, self-test, build file);
``printer.py`` holds what the printers share (literals, escaping, templates, tree splitting).

The arithmetic contract, identical in every language: inputs are cast to float32 where the
source casts them, thresholds compare in the source's dtype (``float32(x) <= float64 t`` for
scikit-learn, float32 ``x < t`` for XGBoost), leaves are added one tree after another in the
accumulation dtype, float32 links compute ``exp`` in double and round once.
"""
