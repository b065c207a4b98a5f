"""Innovation studios (劳模/职工创新工作室) and honours: calls, quotas, notices, the registry and its documents."""
