"""Turns sources (files, folders, URLs, stdin) into clean, fingerprinted, tagged articles."""
