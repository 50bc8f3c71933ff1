_instruments = ("anthropic >= 0.30",)
