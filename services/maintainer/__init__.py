"""The maintainer: keeps the sink's tables healthy while fresh: small files merged, snapshots expired."""
