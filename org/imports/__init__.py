"""Imports and exports of the org data: see ``engine`` (import), ``exporting`` (export), ``reading`` (files)."""
