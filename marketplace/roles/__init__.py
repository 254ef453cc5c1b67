"""What each party does with the protocol: the requester's task management, the coordinator
(aggregator) loop and the audit."""
