"""Frontend: network YAML files and the Python builder -> validated `NetworkIR`."""

from .builder import Network
from .network import load_network, network_from_dict

__all__ = ["Network", "load_network", "network_from_dict"]
