"""Result objects of the analyses, and the few pure helpers that read them.

The wings that compute these results (:mod:`tfprobe.recurrent`, :mod:`tfprobe.psychophysics`) and the
figures that draw them (:mod:`tfprobe.figures`) both import them from here, so data flows one way: a
figure never needs the analysis that made its numbers.  This package imports only datasets, models and
the package's foundations (errors, validation, atomic writes); the wings re-export every name from its
old place (``tfprobe.recurrent.TimeDecodingResult``, ``tfprobe.psychophysics.ContrastSensitivity``).
"""
