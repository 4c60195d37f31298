"""HarmMap core: settings, database, domain. Importable without Flask; never imports etl/ or web/."""

__version__ = "0.1.0"
