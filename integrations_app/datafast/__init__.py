"""DataFast (web analytics): which payment providers each website has connected."""
