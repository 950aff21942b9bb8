"""Medical knowledge graph: nodes, edges with evidence, loaders, storage and reasoning."""
