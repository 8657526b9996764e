"""Specifications: frozen dataclasses describing hardware, models, deployments, workloads, scenarios,
pricing and plans. Constructors validate; nothing here reads a file."""
