"""SecAgg+ secure aggregation (lower tier): crypto steps, shares, quantiser, graph, client and server stages."""
