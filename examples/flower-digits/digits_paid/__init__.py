"""digits-paid: a Flower app whose rounds fedmarket commits, reveals, values and pays."""
