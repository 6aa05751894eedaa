# Datasets & DataLoaders (Learn the Basics), with a custom Dataset of synthetic images.
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class CustomImageDataset(Dataset):
    def __init__(self, n, transform=None, target_transform=None):
        rng = np.random.default_rng(0)
        self.img_labels = [int(v) for v in rng.integers(0, 10, n)]
        self.images = rng.random((n, 1, 28, 28)).astype(np.float32)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        image = torch.tensor(self.images[idx])
        label = self.img_labels[idx]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


torch.manual_seed(0)
training_data = CustomImageDataset(200)
print(len(training_data))
img, label = training_data[3]
print(img.shape, img.dtype, type(label).__name__, label)

train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
print(len(train_dataloader), train_dataloader.batch_size)

# Display image and label.
train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {train_features.size()}")
print(f"Labels batch shape: {train_labels.size()}")
img = train_features[0].squeeze()
label = train_labels[0]
print(img.shape, label.shape, label.dtype, train_labels.dtype, train_features.dtype)

seen, total = [], 0
for X, y in train_dataloader:
    seen.append(tuple(X.shape))
    total += int(y.sum())
print(seen, total, sum(training_data.img_labels))

test_dataloader = DataLoader(training_data, batch_size=64)
X, y = next(iter(test_dataloader))
print(y[:10], X[0, 0, 0, :3])

target = lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)
ds = CustomImageDataset(5, transform=lambda im: im * 2, target_transform=target)
im, lab = ds[1]
print(lab, im.max() <= 2)
