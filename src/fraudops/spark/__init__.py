"""The Spark engine: the package's own generate, card-history and scoring code on executors.

``session`` (the one way to start Spark: master from ``SPARK_MASTER_URL``), ``generate`` (days
of the generator as (day, slice) tasks, their Parquet files added to the lake in one commit),
``score`` (an inbox file's card-history features and scores, a group of cards per task),
``train`` (distributed XGBoost). pyspark is imported by these modules only, never by the CLI
or the API at import time.
"""
