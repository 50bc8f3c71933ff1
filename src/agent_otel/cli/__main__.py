from agent_otel.cli import main

main()
