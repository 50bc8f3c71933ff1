_instruments = ("mcp >= 2.0",)
