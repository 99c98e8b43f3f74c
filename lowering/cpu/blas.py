"""placeholder"""
def supports(eqn):
    return False
def emit_call(*a):
    raise NotImplementedError
