"""Compiler passes over the IR: quantize, resources (the resource model), partition, place."""
