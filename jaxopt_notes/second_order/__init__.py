"""Beyond first order: line searches, Newton's method, L-BFGS, preconditioning.

Line searches (`scale_by_backtracking_linesearch`, `scale_by_zoom_linesearch`,
`scale_by_exact_linesearch`) and Newton steps need the objective itself: their
``update`` takes ``value_fn`` (and, where useful, ``value`` and ``grad`` at the
params) as keyword extras; any further extras are passed on to ``value_fn``.
They go last in a `chain`, after the transform that makes the direction, and
report in their state the step size they chose and the evaluations it took.
"""
