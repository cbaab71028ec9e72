"""`keras.models.clone_model`: the same architecture with fresh weights."""
from tenfold.keras.engine.keras_tensor import KerasTensor
from tenfold.keras.layers.input_layer import InputLayer, Input
from tenfold.keras.layers.layer import Layer
from tenfold.util import nest


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model of the same structure, with newly initialised weights (as Keras).

    Sequential and functional models are rebuilt layer by layer through `clone_function`
    (default: `layer.__class__.from_config(layer.get_config())`); subclassed models are
    re-created from their config."""
    from tenfold.keras.models.functional import Functional
    from tenfold.keras.models.sequential import Sequential
    clone_function = clone_function or _default_clone

    def clone_layer(layer):
        if recursive and isinstance(layer, (Sequential, Functional)):
            return clone_model(layer, clone_function=clone_function,
                               call_function=call_function, recursive=True)
        return clone_function(layer)

    if isinstance(model, Sequential):
        layers = []
        if model._seq_layers and isinstance(model._seq_layers[0], InputLayer) and \
                input_tensors is None:
            ref = model._seq_layers[0]
            layers.append(InputLayer(batch_shape=ref.batch_shape, dtype=ref.dtype,
                                     name=ref.name))
        elif input_tensors is not None:
            t = nest.flatten(input_tensors)[0]
            layers.append(t if isinstance(t, KerasTensor) else
                          Input(batch_shape=tuple(t.shape), dtype=t.dtype.name))
        layers += [clone_layer(l) for l in model.layers]
        return Sequential(layers, name=model.name, trainable=model.trainable)
    if isinstance(model, Functional):
        mapping = {}
        if input_tensors is not None:
            new_inputs = nest.flatten(input_tensors)
        else:
            new_inputs = [Input(batch_shape=kt.shape, dtype=kt.dtype, name=kt.name)
                          for kt in model._inputs]
        for old, new in zip(model._inputs, new_inputs):
            mapping[id(old)] = new
        new_layers = {}
        for layer, args, kw, simple, in_id, out_ids, single in model._plan.steps:
            if id(layer) not in new_layers:
                new_layers[id(layer)] = clone_layer(layer)
            nl = new_layers[id(layer)]
            fill = (lambda o: mapping[id(o)] if isinstance(o, KerasTensor) else o)
            a = nest.map_structure(fill, args)
            k = nest.map_structure(fill, kw) if kw else {}
            out = call_function(nl, *a, **k) if call_function else nl(*a, **k)
            for oid, o in zip(out_ids, nest.flatten(out)):
                mapping[oid] = o
        outs = nest.pack_sequence_as(model._outputs_struct,
                                     [mapping[id(kt)] for kt in model._outputs]) \
            if nest.is_nested(model._outputs_struct) else mapping[id(model._outputs[0])]
        ins = nest.pack_sequence_as(model._inputs_struct, new_inputs) \
            if nest.is_nested(model._inputs_struct) else new_inputs[0]
        return Functional(ins, outs, name=model.name, trainable=model.trainable)
    if isinstance(model, Layer):
        config = model.get_config()
        return type(model).from_config(config)
    raise ValueError(f"Expected `model` to be a `Model` instance; got {type(model).__name__}.")

