"""The serving engine over time on simpy: replicas with scheduling, admission, preemption and
routing policies, paged KV blocks, records and their summary."""
