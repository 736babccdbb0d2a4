"""The package's structure: imports point one way, and Tensor's methods are on the class."""
import ast
import pathlib

import networkx as nx

import lazytensor as lt

PACKAGE = pathlib.Path(lt.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import statement, at module level or inside functions, except `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, is_package: bool, node, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
    out = set()
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.add(sub if sub in known else target)
    return {t for t in out if t in known}


def import_graph() -> nx.DiGraph:
    """lazytensor's modules and who imports whom (a package's __init__ re-exporting its own
    submodules is the package's facade, not a dependency of those submodules on it)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in _imports(tree):
            for target in _targets(module, path.name == "__init__.py", node, known):
                if target != module:
                    graph.add_edge(module, target)
    return graph


def test_no_import_circles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:10])


def test_the_walk_sees_imports_inside_functions():
    graph = import_graph()
    assert graph.has_edge("lazytensor.tensor", "lazytensor.tensor_base")
    assert graph.has_edge("lazytensor.elementwise", "lazytensor.data_dependent")


def test_no_module_assigns_onto_tensor():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and node.args \
                    and getattr(node.args[0], "id", None) in ("Tensor", "TensorBase"):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and getattr(t.value, "id", None) in ("Tensor", "TensorBase"):
                        offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


def test_tensor_methods_are_defined_on_the_class():
    for name in ("exp", "add_", "__radd__", "reshape", "T", "sum", "__getitem__", "matmul", "float", "sort"):
        assert name in vars(lt.Tensor), name


def test_tensors_stay_hashable_despite_elementwise_eq():
    x = lt.tensor([1.0, 2.0])
    assert {x: 1}[x] == 1 and (x == x).all()
