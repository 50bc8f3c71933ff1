"""Load for the real stack, shared by the stack tests and the benches: a paced agent process
(`emit`) and the read-backs that count what arrived in each backend (`backends`)."""
