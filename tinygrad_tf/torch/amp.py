"""`torch.amp.GradScaler` (also `torch.cuda.amp.GradScaler`): loss scaling is for float16
on a GPU; without one PyTorch's scaler turns itself off and passes everything through,
and so does this one (training code that writes `scaler.scale(loss).backward()` runs)."""


class GradScaler:
    def __init__(self, device="cpu", enabled=True, **options):
        self.enabled = False            # (PyTorch's, with no GPU: disabled, with a warning)

    def is_enabled(self):
        return False

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer):
        pass

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        pass

    def get_scale(self):
        return 1.0
