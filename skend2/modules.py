"""Torch modules: the default member networks and the fused (vectorised) ensemble."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

__all__ = ["MLP", "SmallCNN", "FlatHeadCNN", "StackedEnsemble", "MemberList"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU}


class MLP(nn.Module):
    """Fully connected network whose input and output sizes are set from the data.

    The skend2 estimators pass ``n_features`` and ``n_classes`` at ``fit`` when the
    user leaves them as ``None``, so ``MLP`` works on any tabular (or flattened
    image) input.

    Parameters
    ----------
    n_features : int, default=None
        Number of input features (inputs of any shape are flattened first).
    n_classes : int, default=None
        Number of outputs (logits).
    hidden_layer_sizes : sequence of int, default=(100, 100)
        Width of each hidden layer, as in :class:`sklearn.neural_network.MLPClassifier`.
    activation : {"relu", "tanh", "gelu", "elu"}, default="relu"
        Non-linearity after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from skend2.modules import MLP
    >>> MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,))(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_features: int | None = None,
        n_classes: int | None = None,
        hidden_layer_sizes: Sequence[int] = (100, 100),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if n_features is None or n_classes is None:
            raise ValueError(
                "MLP needs n_features and n_classes; the skend2 estimators set "
                "them from the data at fit."
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}."
            )
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(n_features)
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), _ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        layers.append(nn.Linear(width, int(n_classes)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _ConvNet(nn.Module):
    """Two blocks of 3×3 convolutions + ReLU and 2×2 max pooling (``width`` then
    ``2 * width`` channels), adaptive average pooling to ``pooled`` × ``pooled``
    and flattening (``features``); a subclass adds the ``classifier`` head."""

    def __init__(
        self, n_channels, n_classes, width, *, convs_per_block: int, pooled: int
    ) -> None:
        super().__init__()
        if n_channels is None or n_classes is None:
            raise ValueError(
                f"{type(self).__name__} needs n_channels and n_classes; the skend2 "
                "estimators set them from the data at fit."
            )
        w = int(width)
        layers: list[nn.Module] = []
        in_channels = int(n_channels)
        for out_channels in (w, 2 * w):
            for _ in range(convs_per_block):
                layers += [
                    nn.Conv2d(in_channels, out_channels, 3, padding=1),
                    nn.ReLU(),
                ]
                in_channels = out_channels
            layers.append(nn.MaxPool2d(2))
        layers += [nn.AdaptiveAvgPool2d(pooled), nn.Flatten()]
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class SmallCNN(_ConvNet):
    """A small convolutional network for images of shape (C, H, W).

    Two blocks of 3×3 convolutions with max pooling, global average pooling and a
    linear classifier; no batch normalisation, so an ensemble of these trains fused.

    Parameters
    ----------
    n_channels : int, default=None
        Input channels (set from the data at ``fit`` when ``None``).
    n_classes : int, default=None
        Number of outputs (logits).
    width : int, default=32
        Channels of the first block; the second block has twice as many.
    dropout : float, default=0.0
        Dropout before the classifier.

    Examples
    --------
    >>> import torch
    >>> from skend2.modules import SmallCNN
    >>> SmallCNN(n_channels=1, n_classes=10, width=4)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        n_channels: int | None = None,
        n_classes: int | None = None,
        width: int = 32,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(n_channels, n_classes, width, convs_per_block=2, pooled=1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * int(width), int(n_classes))
        )


class FlatHeadCNN(_ConvNet):
    """A LeNet-style CNN: two conv blocks, then a flattened hidden layer.

    Two blocks of a 3×3 convolution, ReLU and 2×2 max pooling, then the feature
    map (pooled to 7×7) is flattened into a ReLU hidden layer and a linear
    classifier. Unlike :class:`SmallCNN`, whose global average
    pooling discards where the features are, it learns Fashion-MNIST within a
    few CPU epochs (≈ 13 % test error after 10 epochs on 10,000 images, against
    ≈ 22 % for ``SmallCNN(width=16)``). No batch normalisation, so ensembles of
    it train fused.

    Parameters
    ----------
    n_channels : int, default=None
        Input channels (set from the data at ``fit`` when ``None``).
    n_classes : int, default=None
        Number of outputs (logits).
    width : int, default=16
        Channels of the first block; the second has twice as many.
    hidden : int, default=100
        Units of the hidden layer.

    Examples
    --------
    >>> import torch
    >>> from skend2.modules import FlatHeadCNN
    >>> net = FlatHeadCNN(n_channels=1, n_classes=10, width=4)
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        n_channels: int | None = None,
        n_classes: int | None = None,
        width: int = 16,
        hidden: int = 100,
    ) -> None:
        # 28×28 inputs are 7×7 after the two blocks already; other sizes are
        # brought to it.
        super().__init__(n_channels, n_classes, width, convs_per_block=1, pooled=7)
        self.classifier = nn.Sequential(
            nn.Linear(2 * int(width) * 49, int(hidden)),
            nn.ReLU(),
            nn.Linear(int(hidden), int(n_classes)),
        )


def default_module_for(sample_shape: Sequence[int]) -> type[nn.Module]:
    """The default member architecture for inputs of one sample's shape."""
    return SmallCNN if len(sample_shape) == 3 else MLP


def build_module(
    module: type[nn.Module] | nn.Module | None,
    module_kwargs: dict,
    sample_shape: Sequence[int],
    n_classes: int,
) -> nn.Module:
    """Instantiate a fresh member network (a new initialisation on each call).

    A class is called with ``module_kwargs``; the data-dependent arguments
    ``n_features``, ``n_channels`` and ``n_classes`` are filled in when the class
    accepts them and the user did not set them. An instance is deep-copied and its
    parameters re-initialised (``reset_parameters`` of every submodule), so members
    built from one instance still differ.
    """
    if module is None:
        module = default_module_for(sample_shape)
    if isinstance(module, nn.Module):
        if module_kwargs:
            raise ValueError(
                "module__* parameters were given with a module instance; pass the "
                f"module class instead (got {sorted(module_kwargs)})."
            )
        new = copy.deepcopy(module)
        for sub in new.modules():
            if hasattr(sub, "reset_parameters") and callable(sub.reset_parameters):
                sub.reset_parameters()
        return new
    if not (inspect.isclass(module) and issubclass(module, nn.Module)):
        raise TypeError(
            "module must be a torch.nn.Module subclass or instance, or None for the "
            f"default; got {module!r}."
        )
    kwargs = dict(module_kwargs)
    accepted = inspect.signature(module).parameters
    n_features = 1
    for size in sample_shape:
        n_features *= int(size)
    inferred = {
        "n_features": n_features,
        "n_channels": int(sample_shape[0]) if len(sample_shape) else 1,
        "n_classes": int(n_classes),
    }
    for name, value in inferred.items():
        if name in accepted and kwargs.get(name) is None:
            kwargs[name] = value
    return module(**kwargs)


def can_vectorise(module: nn.Module) -> bool:
    """Whether copies of ``module`` can be trained fused with ``torch.func.vmap``.

    Normalisation layers that update running statistics in training mode write to
    buffers in place, which ``vmap`` cannot batch; such modules train one member
    after another.
    """
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._NormBase) and (
            sub.track_running_stats
        ):
            return False
    return True


def _mangle(name: str) -> str:
    # ParameterDict keys may not contain dots.
    return name.replace(".", "__")


class StackedEnsemble(nn.Module):
    """Several copies of one architecture evaluated in one vectorised call.

    The members' parameters are stacked along a leading axis
    (:func:`torch.func.stack_module_state`) and evaluated with
    :func:`torch.func.vmap` over :func:`torch.func.functional_call`, so the
    forward and backward passes of all members run as one batched computation.
    An element-wise optimiser (SGD, Adam, …) on the stacked parameters updates each
    member exactly as if it were trained alone.

    Parameters
    ----------
    members : list of torch.nn.Module
        Members of identical architecture, each with its own initialisation.
    sample_ndim : int
        Number of dimensions of one input sample (1 for tabular data, 3 for
        images). An input with one more dimension than a batch, shaped
        ``(batch, n_members, *sample_shape)``, gives each member its own minibatch.

    Examples
    --------
    >>> import torch
    >>> from skend2.modules import MLP, StackedEnsemble
    >>> members = [MLP(n_features=2, n_classes=3, hidden_layer_sizes=(4,))
    ...            for _ in range(5)]
    >>> StackedEnsemble(members, sample_ndim=1)(torch.zeros(7, 2)).shape
    torch.Size([7, 5, 3])
    """

    def __init__(self, members: list[nn.Module], sample_ndim: int) -> None:
        super().__init__()
        params, buffers = stack_module_state(members)
        self.n_members = len(members)
        self.sample_ndim = int(sample_ndim)
        self._names = list(params)
        self._buffer_names = list(buffers)
        self.stacked_params = nn.ParameterDict(
            {_mangle(k): nn.Parameter(v.detach().clone()) for k, v in params.items()}
        )
        for name, value in buffers.items():
            self.register_buffer("stacked_buffer__" + _mangle(name), value.clone())
        # A skeleton for functional_call; kept out of the module tree so that its
        # own (unused) tensors are neither trained nor moved between devices.
        self._skeleton = [copy.deepcopy(members[0]).to("meta")]

    def _member_state(self) -> tuple[dict, dict]:
        params = {k: self.stacked_params[_mangle(k)] for k in self._names}
        buffers = {
            k: getattr(self, "stacked_buffer__" + _mangle(k))
            for k in self._buffer_names
        }
        return params, buffers

    def _mlp_forward(self, x: torch.Tensor, per_member: bool) -> torch.Tensor:
        """The members of an :class:`MLP` as batched matrix products.

        Same result as ``vmap``, with far less dispatch overhead per layer: for
        small networks that overhead, not arithmetic, is what a step costs.
        """
        params = self._member_state()[0]
        # (M, batch, features), or (1, batch, features) broadcast to all members.
        h = x.transpose(0, 1).flatten(2) if per_member else x.flatten(1)[None]
        for i, layer in enumerate(self._skeleton[0].layers):
            if isinstance(layer, nn.Linear):
                weight = params[f"layers.{i}.weight"]
                bias = params[f"layers.{i}.bias"]
                if h.shape[0] == 1:
                    # An input shared by all members: one GEMM against their
                    # weights side by side, (batch, in) @ (in, M * out).
                    n_members, n_out, n_in = weight.shape
                    flat = torch.addmm(
                        bias.reshape(-1), h[0], weight.reshape(-1, n_in).T
                    )
                    h = flat.reshape(-1, n_members, n_out).transpose(0, 1)
                else:
                    h = torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))
            elif not isinstance(layer, nn.Flatten):
                h = layer(h)  # element-wise: activation or dropout
        return h.transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skeleton = self._skeleton[0]
        skeleton.train(self.training)
        per_member = x.dim() == self.sample_ndim + 2
        if type(skeleton) is MLP:
            return self._mlp_forward(x, per_member)
        params, buffers = self._member_state()

        def call(p, b, xi):
            return functional_call(skeleton, (p, b), (xi,))

        if not self.training and not per_member:
            # At predict time a loop over the members' slices is faster on CPU
            # than vmap's batched kernels (measured ~1.7x for MLPs).
            return torch.stack(
                [
                    call(
                        {k: v[m] for k, v in params.items()},
                        {k: v[m] for k, v in buffers.items()},
                        x,
                    )
                    for m in range(self.n_members)
                ],
                dim=1,
            )
        out = vmap(
            call, in_dims=(0, 0, 1 if per_member else None), randomness="different"
        )(params, buffers, x)
        return out.transpose(0, 1)

    def members(self) -> list[nn.Module]:
        """Return the members as independent modules.

        Returns
        -------
        list of torch.nn.Module
            One module per member, holding a copy of its slice of the stacked
            weights.
        """
        params, buffers = self._member_state()
        out = []
        for m in range(self.n_members):
            member = copy.deepcopy(self._skeleton[0]).to_empty(device="cpu")
            state = {k: v[m].detach().cpu() for k, v in {**params, **buffers}.items()}
            member.load_state_dict(state)
            out.append(member)
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_skeleton"] = [copy.deepcopy(self._skeleton[0]).to_empty(device="cpu")]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._skeleton = [self._skeleton[0].to("meta")]


class MemberList(nn.Module):
    """Members trained one after another, evaluated in a loop.

    The fallback for architectures that :class:`StackedEnsemble` cannot vectorise
    (for example BatchNorm in training mode). Same output as the stacked ensemble:
    logits of shape (batch, n_members, n_classes).

    Parameters
    ----------
    members : list of torch.nn.Module
        The trained members.

    Examples
    --------
    >>> import torch
    >>> from skend2.modules import MLP, MemberList
    >>> members = [MLP(n_features=2, n_classes=3, hidden_layer_sizes=(4,))
    ...            for _ in range(2)]
    >>> MemberList(members)(torch.zeros(7, 2)).shape
    torch.Size([7, 2, 3])
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.member_modules = nn.ModuleList(members)
        self.n_members = len(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.member_modules], dim=1)

    def members(self) -> list[nn.Module]:
        """Return the members as independent modules.

        Returns
        -------
        list of torch.nn.Module
            The member modules themselves (not copies).
        """
        return list(self.member_modules)
