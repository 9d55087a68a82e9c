"""Butcher tableaus of explicit Runge–Kutta methods, and the increment ``Psi_h`` they define."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from genpo.errors import ConfigError
from genpo.inversion.base import VelocityField


@dataclass(frozen=True)
class Tableau:
    """An explicit Runge–Kutta method.

    Attributes:
        name: The name users type (``tableau=...``).
        a: Row ``i`` holds the coefficients ``a_ij`` for ``j < i`` (strictly lower triangular).
        b: Weights of the stages.
        c: Stage times as fractions of the step.
        order: Classical order of the method.
    """

    name: str
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int

    @property
    def stages(self) -> int:
        return len(self.b)


TABLEAUS: dict[str, Tableau] = {
    t.name: t
    for t in (
        Tableau("euler", ((),), (1.0,), (0.0,), 1),
        Tableau("midpoint", ((), (0.5,)), (0.0, 1.0), (0.0, 0.5), 2),
        Tableau("heun", ((), (1.0,)), (0.5, 0.5), (0.0, 1.0), 2),
        Tableau("rk3", ((), (0.5,), (-1.0, 2.0)), (1 / 6, 2 / 3, 1 / 6), (0.0, 0.5, 1.0), 3),
        Tableau(
            "rk4", ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6), (0.0, 0.5, 0.5, 1.0), 4
        ),
    )
}
"""Registered tableaus, keyed by the name users type."""


def get_tableau(name: str) -> Tableau:
    """The tableau called ``name``; ``ValueError`` names the allowed values."""
    try:
        return TABLEAUS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown tableau {name!r}; choose one of: {', '.join(TABLEAUS)}", field="tableau") from None


def rk_increment(tableau: Tableau, field: VelocityField, x: Tensor, t: float, h: float) -> Tensor:
    """``Psi_h(x, t) = h * sum_i b_i k_i``: one explicit RK step from ``(x, t)`` of signed size ``h``, minus ``x``.

    Stage ``i`` evaluates ``k_i = field(x + h sum_j a_ij k_j, t + c_i h)``. Stage times are Python floats
    computed from the same ``(t, h)`` wherever the increment is needed, so a forward pass and its inverse
    evaluate the field at bit-identical times.
    """
    ks: list[Tensor] = []
    for i in range(tableau.stages):
        xi = x
        for j, aij in enumerate(tableau.a[i]):
            if aij:
                xi = xi + (h * aij) * ks[j]
        ks.append(field(xi, t + tableau.c[i] * h))
    total = None
    for bi, k in zip(tableau.b, ks, strict=True):
        if bi:
            total = bi * k if total is None else total + bi * k
    assert total is not None  # every tableau has a non-zero weight
    return h * total
