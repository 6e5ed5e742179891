"""A traced graph run by TensorFlow Lite's interpreter, for the calls that must be fast every time.

TensorFlow's graph executor costs some microseconds per op; a one-bar GrooVAE is
hundreds of tiny ops (a 16-step decode loop of matrix-vector products), so that
cost, not the arithmetic, is most of its time, and it grows when another thread
(the answer) runs TensorFlow beside it. The same graph, its weights frozen in as
constants, converted once to TFLite and run by one interpreter on one thread,
takes about half the time and varies far less. It is the same arithmetic: the
outputs differ from the graph's by float rounding (~1e-7).
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from hmm_live.quiet import quiet_tensorflow


class LiteFunction:
    """A concrete function of one float32 input and one output, its variables read now (made
    constants), as a TFLite interpreter on one thread: `f(x)` -> the output, numpy."""

    def __init__(self, graph: tf.types.experimental.ConcreteFunction, owner: tf.Module):
        """owner: what holds the graph's variables (the network)."""
        frozen = convert_variables_to_constants_v2(graph)  # TFLite reads no variable inside a loop
        with quiet_tensorflow():  # the converter's and the interpreter's notices
            flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([frozen], owner).convert()
            with warnings.catch_warnings():  # its deprecation notice: LiteRT is the same runtime, as a new package
                warnings.simplefilter("ignore", UserWarning)
                self._interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=1)
            self._interpreter.allocate_tensors()
            details = self._interpreter.get_input_details()[0]
            self._input = details["index"]
            self._output = self._interpreter.get_output_details()[0]["index"]
            self._lock = threading.Lock()  # one interpreter: one call at a time
            self(np.zeros(details["shape"], np.float32))  # the first call sets up XNNPACK (and says so)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            self._interpreter.set_tensor(self._input, x)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output)
