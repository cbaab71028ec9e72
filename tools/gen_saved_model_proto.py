"""Regenerates tenfold/export/_proto/saved_model_pb2.py from saved_model.proto beside it.

protoc comes from grpcio-tools (PyPI); its protoc must not be newer than the protobuf runtime
the `tensorboard` package's compiled protos need (grpcio-tools 1.74.0 = protoc 31.1, the
version tensorboard 2.21's protos were made with):

    pip install --target /tmp/gt --no-deps grpcio-tools==1.74.0
    PYTHONPATH=/tmp/gt python3 tools/gen_saved_model_proto.py

The imported meta_graph.proto (and what it imports) is handed to protoc as a descriptor set
taken from tensorboard's compiled modules, so the generated code imports those modules.
"""
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from tensorboard.compat.proto import meta_graph_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def descriptor_set():
    seen, out = set(), descriptor_pb2.FileDescriptorSet()

    def add(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            add(dep)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        out.file.append(proto)
    add(meta_graph_pb2.DESCRIPTOR)
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ds = os.path.join(tmp, "deps.pb")
        with open(ds, "wb") as f:
            f.write(descriptor_set().SerializeToString())
        cmd = [sys.executable, "-m", "grpc_tools.protoc", f"--descriptor_set_in={ds}",
               f"-I{ROOT}", f"--python_out={ROOT}", "tenfold/export/_proto/saved_model.proto"]
        subprocess.run(cmd, check=True, cwd=ROOT)
    print("wrote tenfold/export/_proto/saved_model_pb2.py")


if __name__ == "__main__":
    main()
