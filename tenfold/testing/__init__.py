"""Test helpers: the table-driven op runner and gradient checks by finite differences.

    from tenfold.testing import OpCase, run_op_case, gradient_check, second_derivative_check
"""
from tenfold.testing.gradcheck import (  # noqa: F401
    gradient_check, second_derivative_check, numeric_gradient, tape_gradient)
from tenfold.testing.op_table import OpCase, run_op_case, make_inputs  # noqa: F401
