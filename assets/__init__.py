"""Files tfprobe ships (installed as the package data ``tfprobe.assets``); see README.md in this folder."""
