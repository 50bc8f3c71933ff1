"""Inference optimization on onnxruntime: measured candidate search, dynamic batching, caching, budgets."""

from agent_otel.optimize.batcher import DynamicBatcher
from agent_otel.optimize.budget import Budget, BudgetExceeded, Budgets
from agent_otel.optimize.cache import InferenceCache
from agent_otel.optimize.measure import ModelError
from agent_otel.optimize.search import optimize

__all__ = ["Budget", "BudgetExceeded", "Budgets", "DynamicBatcher", "InferenceCache", "ModelError", "optimize"]
