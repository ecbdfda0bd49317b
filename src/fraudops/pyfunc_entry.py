"""The pyfunc's entry point, logged with every model ("models from code"), never imported.

MLflow runs this file when it loads a logged model, so a model is code read from this file
and two plain files (the booster and a JSON document), never an unpickled object.
"""

import mlflow.models

from fraudops.model import FraudModel

mlflow.models.set_model(FraudModel())
