"""Makes the small NPY/NPZ files the io tests read, with numpy itself.

Run from this folder: python3 make_npy.py (numpy >= 1.17). The matrix is always
[[1, -2], [3, 4], [-5, 6]] (absolute values for unsigned types).
"""
import numpy as np

m = np.array([[1, -2], [3, 4], [-5, 6]])

np.save("f4_fortran.npy", np.asfortranarray(m.astype("<f4")))
np.save("i4_big_endian.npy", m.astype(">i4"))
np.save("u2_fortran.npy", np.asfortranarray(np.abs(m).astype("<u2")))
np.save("bool_1d.npy", np.array([True, False, True]))
with open("f8_v2.npy", "wb") as f:
    np.lib.format.write_array(f, m.astype("<f8"), version=(2, 0))
with open("i8_v3.npy", "wb") as f:
    np.lib.format.write_array(f, m.astype("<i8"), version=(3, 0))
nan = m.astype("<f8")
nan[1, 0] = np.nan
np.save("nan.npy", nan)
y = np.array([0, 1, 0], dtype="<i8")
np.savez("stored.npz", X=np.asfortranarray(m.astype("<i2")), y=y)
np.savez_compressed("deflated.npz", X=np.asfortranarray(np.abs(m).astype("|u1")), y=y, other=np.arange(4.0))
np.savez("single.npz", m.astype("<f8"))
