"""Configuration as code: the dashboard's configuration (accounts, websites, keys, organisations,
projects and their members, links between websites and organisations, channels, silences and
maintenance windows) as one YAML file.

- `yamlio`: reading a file that may be hostile (size, entries, depth, aliases, tags, duplicate keys
  refused before anything is built) into values that remember their line; writing one.
- `secrets`: secrets under a passphrase (Scrypt, then Fernet), never in clear.
- `sections`, `alerting`: one small section per kind of row, listed in `registry`; adding a kind
  is a class and a line. Channels, silences and windows are checked by their pages' own forms.
- `service`: export (through scoping), and import as a plan (add, change, remove) applied in one
  transaction, or only reported (dry run).
"""
