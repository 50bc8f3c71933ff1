_instruments = ("mcp >= 1.9",)
