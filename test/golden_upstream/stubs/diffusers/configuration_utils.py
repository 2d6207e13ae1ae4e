class ConfigMixin:
    pass
def register_to_config(f):
    return f
