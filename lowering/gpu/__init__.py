"""The GPU backend: fused CUDA kernels compiled with NVRTC and run through CuPy.

``compile(closed_jaxpr)`` returns a ``GpuExecutable`` (see ``lowering.gpu.compile``);
``gpu_devices()`` lists the CUDA devices (``lowering.gpu.device``). Importing this
package never needs CuPy, a driver or a GPU.
"""
