"""Small data sets the package generates itself, so every recipe runs offline."""
