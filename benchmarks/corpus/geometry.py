"""Rotations, quaternions and rigid transforms (SymForce's home ground)."""
import sympy as sp

from physgraph.bench.corpus import Case, Entry

DIEBEL = "J. Diebel, Representing Attitude: Euler Angles, Unit Quaternions, and Rotation " \
    "Vectors (Stanford, 2006)"


def _quat(name: str):
    return sp.symbols(f"{name}w {name}x {name}y {name}z")


def _product(a, b):
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def _matrix(q):
    w, x, y, z = q
    return sp.Matrix([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                      [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                      [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _quat_product() -> Case:
    a, b = _quat("a"), _quat("b")
    return Case(list(_product(a, b)), [*a, *b])


def _quat_rotate() -> Case:
    """v' = q (0, v) q^-1 for a quaternion of any norm."""
    q, v = _quat("q"), sp.symbols("vx vy vz")
    conj = (q[0], -q[1], -q[2], -q[3])
    n2 = sum(c * c for c in q)
    out = _product(_product(q, (0, *v)), conj)[1:]
    return Case([c / n2 for c in out], [*q, *v])


def _quat_matrix() -> Case:
    q = _quat("q")
    return Case(list(_matrix(q)), list(q))


def _euler_zyx() -> Case:
    yaw, pitch, roll = sp.symbols("psi theta phi")
    R = sp.rot_axis3(-yaw) * sp.rot_axis2(-pitch) * sp.rot_axis1(-roll)
    return Case(list(R), [yaw, pitch, roll])


def _rodrigues() -> Case:
    """A vector rotated about the unit axis k by angle theta."""
    k, v, th = sp.symbols("kx ky kz"), sp.symbols("vx vy vz"), sp.Symbol("theta")
    K, V = sp.Matrix(k), sp.Matrix(v)
    out = V * sp.cos(th) + K.cross(V) * sp.sin(th) + K * K.dot(V) * (1 - sp.cos(th))
    return Case(list(out), [*k, *v, th])


def _exp_map() -> Case:
    """Unit quaternion of a rotation vector (the tangent-space exponential)."""
    w = sp.symbols("wx wy wz")
    th = sp.sqrt(sum(c * c for c in w))
    s = sp.sin(th / 2) / th
    return Case([sp.cos(th / 2), *(s * c for c in w)], list(w))


def _se3_chain() -> Case:
    """A point through two rigid transforms (R(q1) p + t1, then R(q2) . + t2)."""
    q1, q2 = _quat("a"), _quat("b")
    t1, t2, p = sp.symbols("t1x t1y t1z"), sp.symbols("t2x t2y t2z"), sp.symbols("px py pz")
    out = _matrix(q2) * (_matrix(q1) * sp.Matrix(p) + sp.Matrix(t1)) + sp.Matrix(t2)
    return Case(list(out), [*q1, *q2, *t1, *t2, *p])


ENTRIES = [
    Entry("quaternion-product", DIEBEL + ", sec. 6 (quaternion multiplication)", _quat_product),
    Entry("quaternion-rotate-vector", DIEBEL + ", sec. 6 (rotation by q v q^-1)", _quat_rotate),
    Entry("quaternion-to-matrix", DIEBEL + ", sec. 6 (rotation matrix of a unit quaternion)",
          _quat_matrix),
    Entry("euler-zyx-matrix", DIEBEL + ", sec. 5 (Euler angle sequence (3, 2, 1))", _euler_zyx),
    Entry("rodrigues-rotation", "O. Rodrigues, J. Math. Pures Appl. 5 (1840) 380", _rodrigues),
    Entry("rotation-vector-to-quaternion", DIEBEL + ", sec. 7 (rotation vector)", _exp_map),
    Entry("se3-transform-chain", "R. M. Murray, Z. Li, S. S. Sastry, A Mathematical "
          "Introduction to Robotic Manipulation (1994) ch. 2 (rigid-body transformations)",
          _se3_chain),
]
